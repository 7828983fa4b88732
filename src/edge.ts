// vae-wasm for edge runtimes (Cloudflare workerd, Vercel edge-light): the package's `workerd`
// and `edge-light` export conditions resolve here. These runtimes refuse to compile WebAssembly
// from bytes, so the app imports the .wasm (its bundler turns it into a WebAssembly.Module) and
// hands it over once before creating a model:
//
//     import wasm from "vae-wasm/wasm/vae.simd.wasm";
//     import { VAE, provideModule } from "vae-wasm";
//     provideModule(wasm, { build: "simd" });
//     const vae = await VAE.load(bytes); // or VAE.create({...}); threads fall back to 1 here
//
// Everything that needs a file system (readIdxFile, loadMnist) is left out.
export * from "./core.js";
