#!/usr/bin/env node
// A local HTTP server for packaging/image-check.sh, on 127.0.0.1 and an ephemeral port (parallel runs never clash):
//   node packaging/ci-http.mjs <port-file> <request-log> stall          accepts every request and never answers
//   node packaging/ci-http.mjs <port-file> <request-log> serve <dir>    serves <dir>'s files by URL path, else 404
// Works as an HTTP proxy too: a request line may carry an absolute URL (GET http://host/path), whose path is used.
// Each request is logged as one JSON line {method, url, headers}; the port is written to <port-file> once listening.
import { createReadStream, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';

const [portFile, requestLog, mode, dir] = process.argv.slice(2);
if (!portFile || !requestLog || !['stall', 'serve'].includes(mode) || (mode === 'serve' && !dir)) {
  console.error('usage: ci-http.mjs <port-file> <request-log> stall | serve <dir>');
  process.exit(2);
}
const root = mode === 'serve' ? path.resolve(dir) : '';
const stalled = [];

const server = createServer((req, res) => {
  appendFileSync(requestLog, `${JSON.stringify({ method: req.method, url: req.url, headers: req.headers })}\n`);
  if (mode === 'stall') {
    stalled.push(res); // keep the socket open, say nothing
    return;
  }
  const urlPath = decodeURIComponent(new URL(req.url, 'http://local').pathname);
  const file = path.join(root, urlPath);
  let size = -1;
  try {
    if (file.startsWith(`${root}${path.sep}`)) size = statSync(file).isFile() ? statSync(file).size : -1;
  } catch {}
  if (size < 0) {
    res.writeHead(404, { 'content-length': 0 }).end();
    return;
  }
  res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
  if (req.method === 'HEAD') res.end();
  else createReadStream(file).pipe(res);
});
server.listen(0, '127.0.0.1', () => writeFileSync(portFile, `${server.address().port}\n`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
