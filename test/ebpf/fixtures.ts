import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A minimal ELF64 relocatable object for the given machine (247 = BPF, 62 = x86_64): header, a `license` section, the
 * section-name table and the section header table (null, license, .shstrtab) — what the checks read. `headerOnly`
 * gives the 64-byte header alone: a truncated object whose section table lies outside the file (issue #13).
 */
export function elfObject(machine: number, headerOnly = false): Buffer {
  const license = Buffer.from('Dual MIT/GPL\0');
  const names = Buffer.from('\0license\0.shstrtab\0');
  const licenseAt = 64;
  const namesAt = licenseAt + license.length;
  const shoff = Math.ceil((namesAt + names.length) / 8) * 8;
  const b = Buffer.alloc(shoff + 3 * 64);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = 2; // ELFCLASS64
  b[5] = 1; // little endian
  b[6] = 1; // EV_CURRENT
  b.writeUInt16LE(1, 16); // ET_REL
  b.writeUInt16LE(machine, 18);
  b.writeUInt32LE(1, 20);
  b.writeBigUInt64LE(BigInt(shoff), 40); // e_shoff
  b.writeUInt16LE(64, 52); // e_ehsize
  b.writeUInt16LE(64, 58); // e_shentsize
  b.writeUInt16LE(3, 60); // e_shnum
  b.writeUInt16LE(2, 62); // e_shstrndx
  license.copy(b, licenseAt);
  names.copy(b, namesAt);
  const section = (i: number, name: number, type: number, offset: number, size: number) => {
    const at = shoff + i * 64;
    b.writeUInt32LE(name, at);
    b.writeUInt32LE(type, at + 4);
    b.writeBigUInt64LE(BigInt(offset), at + 24);
    b.writeBigUInt64LE(BigInt(size), at + 32);
  };
  section(1, 1, 1, licenseAt, license.length); // PROGBITS "license"
  section(2, 9, 3, namesAt, names.length); // STRTAB ".shstrtab"
  return headerOnly ? b.subarray(0, 64) : b;
}

export function writeBpfObject(file: string): void {
  writeFileSync(file, elfObject(247));
}

export interface FileServer {
  url: string;
  requests: string[];
  /** path → body (Buffer) or status code */
  routes: Map<string, Buffer | number>;
  close(): Promise<void>;
}

/** A static server on 127.0.0.1: exact paths map to bodies or status codes; everything else is 404. */
export async function fileServer(): Promise<FileServer> {
  const routes = new Map<string, Buffer | number>();
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const route = routes.get(req.url ?? '');
    if (route === undefined || typeof route === 'number') {
      res.writeHead(route ?? 404);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-length': String(route.length) });
    res.end(route);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    routes,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
