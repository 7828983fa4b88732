// The command line: which command runs (each in its own file).
import { loadMnist } from "../data/mnist.js";
import { checkpointFlags } from "./checkpoint.js";
import { readFileSync } from "node:fs";
import { parse, runFlags, usageError } from "./args.js";
import { helpText } from "./flags.js";
import { evaluate, variance } from "./evaluate.js";
import { explore } from "./explore.js";
import { figures } from "./figures.js";
import { pictures } from "./pictures.js";
import { semiSupervised } from "./semi.js";
import { train } from "./train.js";

export async function main(argv: string[]): Promise<void> {
  let { command, args } = parse(argv);
  if (args.resume) {
    // the run's own flags first, those given now after them (the last of a flag wins)
    const merged = [command, ...checkpointFlags(args.resume), ...runFlags(argv)];
    const resume = args.resume;
    ({ command, args } = parse([...merged, "--resume", resume]));
    args.argv = merged;
  } else {
    args.argv = argv;
  }
  switch (command) {
    case "help": process.stdout.write(helpText(args.helpFor) + "\n"); return;
    case "version": {
      const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
      process.stdout.write(`vae-wasm ${pkg.version}\n`);
      return;
    }
    case "train": return train(args, false);
    case "demo": return train(args, true);
    case "eval": return evaluate(args);
    case "variance": return variance(args);
    case "sample":
    case "reconstruct":
      return pictures(args, command);
    case "traverse":
    case "interpolate":
      return explore(args, command);
    case "semi": return semiSupervised(args);
    case "figures": {
      const files = await figures(args, await loadMnist(args.data), true);
      process.stdout.write(`wrote ${files.join(", ")}\n`);
      return;
    }
    default: usageError(`unknown command '${command}'`);
  }
}
