import { main } from './main.js';

// Entry point of the bundle (dist/falco-driver-loader.cjs) and of the single executable.
main(process.argv.slice(2), process.env, {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`falco-driver-loader: internal error: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
