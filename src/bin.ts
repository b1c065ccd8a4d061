import { main } from './main.js';

// Entry point of the bundle (dist/falco-driver-loader.cjs) and of the single executable.

// Anything that escapes main() is a bug (a library assertion, say): one line and exit 1, not Node's dump — inside
// the single executable Node even fails to format the dump of the one-line bundle (issue #7 finding).
process.on('uncaughtException', (error) => {
  process.stderr.write(
    `falco-driver-loader: internal error, please report it: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`,
  );
  process.exit(1);
});

// Writing past a file-size limit (ulimit -f, systemd LimitFSIZE=) raises SIGXFSZ, whose default action killed the
// run mid-download and left its temp file behind (issue #8). Handled, the write fails with EFBIG like a full disk
// (ENOSPC) does, and the download cleans up after itself.
process.on('SIGXFSZ', () => undefined);

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
