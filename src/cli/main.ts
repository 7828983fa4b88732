// The command line: which command runs (each in its own file).
import { loadMnist } from "../data/mnist.js";
import { HELP, parse, usageError } from "./args.js";
import { evaluate, variance } from "./evaluate.js";
import { figures } from "./figures.js";
import { pictures } from "./pictures.js";
import { semiSupervised } from "./semi.js";
import { train } from "./train.js";

export async function main(argv: string[]): Promise<void> {
  const { command, args } = parse(argv);
  switch (command) {
    case "help": process.stdout.write(HELP + "\n"); return;
    case "train": return train(args, false);
    case "demo": return train(args, true);
    case "eval": return evaluate(args);
    case "variance": return variance(args);
    case "sample":
    case "reconstruct":
      return pictures(args, command);
    case "semi": return semiSupervised(args);
    case "figures": {
      const files = await figures(args, await loadMnist(args.data), true);
      process.stdout.write(`wrote ${files.join(", ")}\n`);
      return;
    }
    default: usageError(`unknown command '${command}'`);
  }
}
