import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { DRIVER_VERSION, expectLine, FaultHost, FILE, isRoot, runLoader } from '../faults/harness.js';
import { startServer } from '../helpers/httpServer.js';
import { type Nginx, startNginx } from '../helpers/nginx.js';
import { tempDir } from '../helpers/tmp.js';
import { moduleFor } from '../kmod/modules.js';

/**
 * Issue 19 with real parts: plans printed by the built CLI (--dry-run --json), a mirror filled by the built CLI from
 * an upstream on 127.0.0.1 (files missing, one failing twice then served, one stalled), served by Debian's nginx,
 * and the loader downloading from it with the checksum required.
 */
const DIR = `/${encodeURIComponent(DRIVER_VERSION)}/x86_64`;
const OTHER = 'falco_centos_5.14.0-1_1.ko';
const MISSING = 'falco_centos_5.14.0-404_1.ko';
const STALLED = 'falco_centos_5.14.0-stall_1.ko';
/** -m 6: a stalled file gives up after 6 s; 3 retries after 1 s and 2 s fit inside it. */
const CURL = '--connect-timeout 1 -m 6 --retry 3 --retry-max-time 6';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe.runIf(isRoot)('a mirror filled from upstream, served by nginx, used by the loader', () => {
  let nginx: Nginx | undefined;
  afterAll(async () => {
    await nginx?.stop();
  });

  it('fills, resumes, serves and verifies; a tampered file is refused and not cached', async () => {
    const provided = inject('nginx');
    if ('error' in provided) throw new Error(provided.error); // never skipped: the reason is the failure
    const k = new FaultHost();
    const other = readFileSync(moduleFor('5.14.0-1'));
    const hits = new Map<string, number>();
    const upstream = await startServer((req, res) => {
      const url = req.url ?? '';
      const n = hits.get(url) ?? 0;
      hits.set(url, n + 1);
      if (url === `${DIR}/${FILE}`) {
        if (n < 2) res.writeHead(500).end();
        else res.writeHead(200).end(k.good);
      } else if (url === `${DIR}/${OTHER}`) {
        res.writeHead(200).end(other);
      } else if (url === `${DIR}/${STALLED}`) {
        if (n > 0) res.writeHead(200).end(other);
        else res.writeHead(200, { 'content-length': '100000' }).write(other.subarray(0, 10)); // then silence
      } else if (url === `${DIR}/SHA256SUMS`) {
        res.writeHead(200).end(`${sha(k.good)}  ${FILE}\n${sha(other)}  ${OTHER}\n`);
      } else {
        res.writeHead(404).end();
      }
    });

    // 1. Plans as two nodes print them, plus rows for kernels not booted yet.
    const plans: string[] = [];
    for (const node of ['node-a', 'node-b']) {
      const r = await runLoader(['--dry-run', '--json'], k.env({ NODE_NAME: node }));
      expect(r.code).toBe(0);
      expect(r.stdout.trim().split('\n')).toHaveLength(1);
      plans.push(r.stdout.trim());
    }
    for (const release of ['5.14.0-1', '5.14.0-404', '5.14.0-stall']) {
      plans.push(`centos ${release} 1 x86_64 falco ${DRIVER_VERSION}`);
    }
    const work = tempDir();
    const plansFile = path.join(work, 'plans.jsonl');
    writeFileSync(plansFile, `${plans.join('\n')}\n`);
    const out = path.join(work, 'mirror');
    const mirrorArgs = ['mirror', '--plans', plansFile, '--out', out, '--repo', upstream.origin];
    const env = { PATH: '/usr/bin:/bin', HOME: k.home, DRIVER_CURL_OPTIONS: CURL };

    // 2. First mirror run: what is there arrives (the flaky one on its third try), the rest is reported.
    const first = await runLoader(mirrorArgs, env);
    expect(first.code).toBe(1);
    expect(hits.get(`${DIR}/${FILE}`)).toBe(3);
    expect(hits.get(`${DIR}/SHA256SUMS`)).toBe(1); // checked for both files, asked for once
    expect(first.stderr).toContain(`* fetched  ${DRIVER_VERSION}/x86_64/${FILE}`);
    expect(first.stderr).toContain(`* missing  ${DRIVER_VERSION}/x86_64/${MISSING} (not upstream: HTTP 404 Not Found)`);
    expectLine(
      first.stderr,
      new RegExp(`^\\* FAILED {3}.*${STALLED} from 127\\.0\\.0\\.1:\\d+: gave up after \\d+ s \\(maximum time\\)$`),
    );
    expect(first.stdout).toContain('all hosts (unique files)      4      2                 1       1\n');
    expect(first.stdout).toContain('\nnode-a                        1      1                 0       0\n');
    expect(first.stdout).toContain('\nline 5                        1      0                 0       1\n');
    const mirrored = path.join(out, DRIVER_VERSION, 'x86_64');
    expect(readdirSync(mirrored).sort()).toEqual(['SHA256SUMS', OTHER, FILE].sort());
    expect(readFileSync(path.join(mirrored, 'SHA256SUMS'), 'utf8')).toBe(
      `${sha(other)}  ${OTHER}\n${sha(k.good)}  ${FILE}\n`,
    );

    // 3. Second run: nothing already mirrored is fetched again; the stalled file now arrives.
    const asked = upstream.requests.length;
    const second = await runLoader([...mirrorArgs, '--allow-partial'], env);
    expect(second.code).toBe(0);
    const again = upstream.requests.slice(asked).map((r) => r.url);
    expect(again.filter((u) => u.endsWith(FILE) || u.endsWith(OTHER))).toEqual([]);
    expect(again.filter((u) => !u.endsWith('SHA256SUMS')).sort()).toEqual([`${DIR}/${MISSING}`, `${DIR}/${STALLED}`]);
    expect(second.stderr).toContain(`* present  ${DRIVER_VERSION}/x86_64/${FILE} (already in the mirror, not fetched)`);

    // 4. nginx serves the mirror; the loader requires and verifies the checksum.
    nginx = await startNginx(provided.binary, out);
    const required = { DRIVERS_REPO: nginx.origin, FALCO_DRIVER_LOADER_REQUIRE_CHECKSUM: '1' };
    const good = await runLoader([], k.env(required));
    expect(good.code).toBe(0);
    expectLine(good.stderr, new RegExp(`^\\* SHA256 checksum verified against ${nginx.origin}${DIR}/SHA256SUMS$`));
    expect(good.stdout).toContain('* Download succeeded\n');
    k.expectCache('valid');

    // 5. The same directory as a file:// repository.
    const local = new FaultHost();
    const viaFile = await runLoader(['--download'], local.env({ ...required, DRIVERS_REPO: `file://${out}` }));
    expect(viaFile.code).toBe(0);
    expectLine(
      viaFile.stderr,
      /^\* SHA256 checksum verified against file:\/\/.*\/6\.0\.1%2Bdriver\/x86_64\/SHA256SUMS$/,
    );
    // (each FaultHost builds its own module, so compare with the one mirrored rather than local.good)
    expect(readFileSync(path.join(local.cacheDir(), FILE))).toEqual(k.good);

    // 6. A tampered file (still a valid-looking module for this kernel): refused in one line, not cached.
    writeFileSync(path.join(mirrored, FILE), readFileSync(moduleFor(k.release, DRIVER_VERSION, ['tampered=1'])));
    const victim = new FaultHost();
    const refused = await runLoader(['--download'], victim.env({ DRIVERS_REPO: nginx.origin }));
    expect(refused.code).toBe(1);
    expectLine(
      refused.stderr,
      new RegExp(`^Download failed: SHA256 mismatch for ${FILE}: got [0-9a-f]{64}, .* says ${sha(k.good)}; not kept`),
    );
    victim.expectCache('empty');
  }, 60_000);
});
