// Convolution as a dense layer over patches (im2col). Images are stored NHWC: example b's value
// at row h, column w, channel c is x[((b·H + h)·W + w)·C + c] (a pixel's channels together, as
// the datasets and PIL hold images). A patch row holds, for one output position (ho, wo), the
// C·KH·KW inputs it sees in PyTorch's weight order (c, kh, kw), so the weight tensor
// W[O, C, KH, KW] of nn.Conv2d is the dense layer's W[O, C·KH·KW] unchanged:
//   Conv2d:           Y[b·Ho·Wo + p, o] = act(Σ_q col[b·Ho·Wo + p, q]·W[o, q] + bias[o])  (gemm)
//                     dcol = dY·W (gemmPackedT), dX = col2im(dcol), dW = dYᵀ·col, db = Σ dY
//   ConvTranspose2d:  the adjoint — W[Cin, Cout, KH, KW] is the dense W[Cin, Cout·KH·KW]:
//                     Y = act(col2im(X·W) + bias), dX = im2col(dY)·Wᵀ, dW = Xᵀ·im2col(dY)
// The kernels take example ranges [b0, b1): each example's rows are written by one thread, in a
// fixed order, so any thread count gives the same bits.
//
// Geometry (both kernels): the image is H×W×C, the patch grid Ho×Wo with
//   Ho = (H + 2·PH − KH)/SH + 1,  Wo = (W + 2·PW − KW)/SW + 1,
// patch (ho, wo) covering rows ho·SH − PH + [0, KH) and columns wo·SW − PW + [0, KW); taps that
// fall in the padding read 0 (im2col) or are dropped (col2im).
import { ACT_RELU, ACT_TANH, tanhRows } from "./dense";

/** The patch rows of examples [b0, b1): col[(b·Ho + ho)·Wo + wo, (c·KH + kh)·KW + kw] (written, padding 0). */
export function im2col(
  col: usize, x: usize, C: i32, H: i32, W: i32, KH: i32, KW: i32, SH: i32, SW: i32, PH: i32, PW: i32,
  Ho: i32, Wo: i32, b0: i32, b1: i32,
): void {
  const Q = C * KH * KW, KK = KH * KW;
  for (let b = b0; b < b1; b++) {
    const xb = x + (<usize>(b * H * W * C) << 2);
    for (let ho = 0; ho < Ho; ho++) {
      for (let wo = 0; wo < Wo; wo++) {
        const row = col + (<usize>(((b * Ho + ho) * Wo + wo) * Q) << 2);
        for (let kh = 0; kh < KH; kh++) {
          const h = ho * SH - PH + kh;
          let kw = 0;
          if (ASC_FEATURE_SIMD && C == 1 && h >= 0 && h < H) {
            // one channel: a kernel row's taps are KW neighbouring pixels, stored next to each other
            const w0 = wo * SW - PW;
            for (; kw + 4 <= KW && w0 + kw < 0; kw++) store<f32>(row + (<usize>(kh * KW + kw) << 2), 0); // (left padding)
            for (; kw + 4 <= KW && w0 + kw + 4 <= W; kw += 4) v128.store(row + (<usize>(kh * KW + kw) << 2), v128.load(xb + (<usize>(h * W + w0 + kw) << 2)));
          }
          for (; kw < KW; kw++) {
            const w = wo * SW - PW + kw;
            let dst = row + (<usize>(kh * KW + kw) << 2);
            const step = <usize>KK << 2;
            if (h < 0 || h >= H || w < 0 || w >= W) {
              for (let c = 0; c < C; c++) {
                store<f32>(dst, 0);
                dst += step;
              }
            } else {
              // the pixel's C channels are contiguous: read in order, write KH·KW apart
              let src = xb + (<usize>((h * W + w) * C) << 2);
              for (let c = 0; c < C; c++) {
                store<f32>(dst, load<f32>(src));
                src += 4;
                dst += step;
              }
            }
          }
        }
      }
    }
  }
}

/**
 * The adjoint of im2col for examples [b0, b1): x[b] = Σ over patches of their rows of dcol put
 * back where im2col took them (written: example b's image is zeroed first). Each image value
 * sums its taps in patch order, then (kh, kw) order.
 */
export function col2im(
  x: usize, dcol: usize, C: i32, H: i32, W: i32, KH: i32, KW: i32, SH: i32, SW: i32, PH: i32, PW: i32,
  Ho: i32, Wo: i32, b0: i32, b1: i32,
): void {
  const Q = C * KH * KW, KK = KH * KW;
  for (let b = b0; b < b1; b++) {
    const xb = x + (<usize>(b * H * W * C) << 2);
    memory.fill(xb, 0, <usize>(H * W * C) << 2);
    for (let ho = 0; ho < Ho; ho++) {
      for (let wo = 0; wo < Wo; wo++) {
        const row = dcol + (<usize>(((b * Ho + ho) * Wo + wo) * Q) << 2);
        for (let kh = 0; kh < KH; kh++) {
          const h = ho * SH - PH + kh;
          if (h < 0 || h >= H) continue;
          let kw = 0;
          if (ASC_FEATURE_SIMD && C == 1) {
            // one channel: a kernel row's taps land on KW neighbouring pixels (each pixel gets one
            // tap per patch, so adding four at once keeps every value's order of sums)
            const w0 = wo * SW - PW;
            for (; kw < KW && w0 + kw < 0; kw++);
            for (; kw + 4 <= KW && w0 + kw + 4 <= W; kw += 4) {
              const dst = xb + (<usize>(h * W + w0 + kw) << 2);
              v128.store(dst, f32x4.add(v128.load(dst), v128.load(row + (<usize>(kh * KW + kw) << 2))));
            }
          }
          for (; kw < KW; kw++) {
            const w = wo * SW - PW + kw;
            if (w < 0 || w >= W) continue;
            let src = row + (<usize>(kh * KW + kw) << 2);
            const step = <usize>KK << 2;
            let dst = xb + (<usize>((h * W + w) * C) << 2);
            for (let c = 0; c < C; c++) {
              store<f32>(dst, load<f32>(dst) + load<f32>(src));
              src += step;
              dst += 4;
            }
          }
        }
      }
    }
  }
}

/**
 * y[r, n] = act(y[r, n] + bias[n]) for rows [r0, r1) of n columns (bias 0: none): the epilogue of
 * a transposed convolution, whose sum is complete only after col2im. tanh is the dense layers' own
 * (tanhRows), relu f32.max like theirs.
 */
export function biasActRows(y: usize, bias: usize, n: i32, r0: i32, r1: i32, act: i32): void {
  for (let r = r0; r < r1; r++) {
    const py = y + (<usize>(r * n) << 2);
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      // (f32x4.add and f32x4.max round and order as the scalar f32 add and max do)
      const relu = act == ACT_RELU, zero = f32x4.splat(0);
      for (; j + 4 <= n; j += 4) {
        const o = <usize>j << 2;
        let v = v128.load(py + o);
        if (bias) v = f32x4.add(v, v128.load(bias + o));
        if (relu) v = f32x4.max(v, zero);
        v128.store(py + o, v);
      }
    }
    for (; j < n; j++) {
      const o = <usize>j << 2;
      let v = load<f32>(py + o);
      if (bias) v += load<f32>(bias + o);
      if (act == ACT_RELU) v = max<f32>(v, 0);
      store<f32>(py + o, v);
    }
  }
  if (act == ACT_TANH) tanhRows(y, n, r0, r1, n);
}

/**
 * dst[b] = src[b]ᵀ for examples [b0, b1), each an R×C matrix (written as C×R): an NHWC image
 * [H·W, C] to PyTorch's flatten order [C, H·W] before a dense layer (so its weights are
 * nn.Linear's after nn.Flatten), and back ([C, H·W] → [H·W, C]) for a reshape before a transposed
 * convolution. Its own adjoint with R and C swapped.
 */
export function transposeRows(dst: usize, src: usize, R: i32, C: i32, b0: i32, b1: i32): void {
  const n = <usize>(R * C) << 2;
  for (let b = b0; b < b1; b++) {
    const s = src + <usize>b * n, d = dst + <usize>b * n;
    for (let r = 0; r < R; r++) {
      for (let c = 0; c < C; c++) store<f32>(d + (<usize>(c * R + r) << 2), load<f32>(s + (<usize>(r * C + c) << 2)));
    }
  }
}
