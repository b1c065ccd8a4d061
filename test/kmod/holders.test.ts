import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeUse, moduleUse } from '../../src/kmod/holders.js';
import { tempDir } from '../helpers/tmp.js';

/** A sysroot with /proc/<pid>/{comm,fd/*} and /sys/module/<name>/{refcnt,holders/*}. */
function sysroot(
  procs: Record<number, { comm?: string; fds: string[] }>,
  module?: { refcnt?: string; holders?: string[] },
) {
  const root = tempDir();
  mkdirSync(path.join(root, 'proc/self'), { recursive: true });
  for (const [pid, p] of Object.entries(procs)) {
    const dir = path.join(root, 'proc', pid);
    mkdirSync(path.join(dir, 'fd'), { recursive: true });
    if (p.comm !== undefined) writeFileSync(path.join(dir, 'comm'), `${p.comm}\n`);
    for (const [i, target] of p.fds.entries()) symlinkSync(target, path.join(dir, 'fd', String(i + 3)));
  }
  if (module !== undefined) {
    const dir = path.join(root, 'sys/module/scap');
    mkdirSync(path.join(dir, 'holders'), { recursive: true });
    if (module.refcnt !== undefined) writeFileSync(path.join(dir, 'refcnt'), module.refcnt);
    for (const h of module.holders ?? []) mkdirSync(path.join(dir, 'holders', h));
  }
  return root;
}

describe('moduleUse / describeUse (issue #14: who holds a module rmmod cannot unload)', () => {
  it('names the processes with the driver devices open, in pid order, devices in number order', () => {
    const root = sysroot(
      {
        901: { comm: 'falco', fds: ['/host/dev/scap10', '/host/dev/scap2'] },
        245: { comm: 'sysdig', fds: ['/dev/null', 'socket:[123]', '/dev/scap1', '/dev/scap0'] },
        300: { comm: 'bash', fds: ['/dev/scapx', '/dev/scap', '/dev/scaps0', '/dev/pts/0', '/tmp/dev/scap0.log'] },
      },
      { refcnt: '4\n' },
    );
    const use = moduleUse(root, 'scap');
    expect(use).toEqual({
      refcnt: 4,
      modules: [],
      processes: [
        { pid: 245, comm: 'sysdig', devices: ['/dev/scap0', '/dev/scap1'] },
        { pid: 901, comm: 'falco', devices: ['/host/dev/scap2', '/host/dev/scap10'] },
      ],
    });
    expect(describeUse(use)).toBe(
      'use count 4; open in sysdig (pid 245): /dev/scap0, /dev/scap1; falco (pid 901): /host/dev/scap2, /host/dev/scap10',
    );
  });

  it('names dependent modules and says when no process was found', () => {
    const root = sysroot({ 12: { comm: 'sh', fds: ['/dev/null'] } }, { refcnt: '1', holders: ['zeta', 'alpha'] });
    expect(describeUse(moduleUse(root, 'scap'))).toBe('use count 1; needed by modules alpha, zeta');
    const bare = sysroot({}, {});
    expect(describeUse(moduleUse(bare, 'scap'))).toBe('no process with its device open was found');
  });

  it('keeps the line short when many processes hold it, and survives an unreadable comm', () => {
    const procs: Record<number, { comm?: string; fds: string[] }> = {};
    for (let pid = 10; pid < 16; pid++) procs[pid] = { comm: `p${pid}`, fds: [`/dev/scap${pid - 10}`] };
    procs[10] = { fds: ['/dev/scap0'] };
    const text = describeUse(moduleUse(sysroot(procs), 'scap'));
    expect(text).toBe(
      'open in ? (pid 10): /dev/scap0; p11 (pid 11): /dev/scap1; p12 (pid 12): /dev/scap2; p13 (pid 13): /dev/scap3; 2 more',
    );
  });

  it('a module name is matched literally in device paths', () => {
    const root = sysroot({ 7: { comm: 'x', fds: ['/dev/aXb0', '/dev/a.b0'] } });
    expect(moduleUse(root, 'a.b').processes).toEqual([{ pid: 7, comm: 'x', devices: ['/dev/a.b0'] }]);
  });
});
