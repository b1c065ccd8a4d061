import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeBin } from '../helpers/fakeBin.js';
import { baseEnv, fakePlatform, runCli, runMain } from '../helpers/run.js';
import { tempDir, writeTree } from '../helpers/tmp.js';

const HELP = `Install previously configured driver, either downloading it or attempting a build.

Usage:
  falcoctl driver install [flags]

Flags:
      --compile                Whether to enable local compilation of drivers (default true)
      --download               Whether to enable download of prebuilt drivers (default true)
      --download-headers       Whether to enable automatic kernel headers download where supported (default true)
  -h, --help                   help for install
      --http-headers string    Optional comma-separated list of headers for the http GET request
      --http-insecure          Whether you want to allow insecure downloads or not
      --http-timeout duration  Timeout for each http try (default 1m0s)

Global Flags:
      --host-root string       Driver host root to be used. (default "/")
      --kernelrelease string   Specify the kernel release
      --kernelversion string   Specify the kernel version
      --name string            Driver name to be used. (default "falco")
      --repo strings           Driver repo to be used. (default [https://download.falco.org/driver])
      --type strings           Driver types allowed in descending priority order (kmod, modern_ebpf) (default [modern_ebpf,kmod])
      --version string         Driver version to be used.
`;

/** A fake falcoctl: `version` answers $FAKE_FALCOCTL_VERSION, `driver install --help` the help above; every other
 * call is logged (by FakeBin) and exits $FAKE_FALCOCTL_EXIT, creating /sys/module/falco when $FAKE_LOADS is set. */
function setup(version: string, extra: NodeJS.ProcessEnv = {}) {
  const bin = new FakeBin();
  const helpFile = path.join(bin.dir, 'help.txt');
  writeTree(bin.dir, { 'help.txt': HELP });
  bin.add(
    'falcoctl',
    `case "$1 $2 $3" in
  "version  ") echo "Client Version: v$FAKE_FALCOCTL_VERSION"; exit 0 ;;
  "driver install --help") cat '${helpFile}'; exit 0 ;;
esac
echo "INFO  Running falcoctl $*"
if [ -n "$FAKE_LOADS" ]; then mkdir -p "$FALCO_DRIVER_LOADER_SYSROOT/sys/module/falco"; fi
exit \${FAKE_FALCOCTL_EXIT:-0}`,
  );
  const hostRoot = tempDir();
  writeTree(hostRoot, { 'etc/os-release': 'ID=ubuntu\n' });
  const env = baseEnv({
    PATH: bin.path(),
    HOME: tempDir(),
    HOST_ROOT: hostRoot,
    FALCO_DRIVER_LOADER_SYSROOT: tempDir(),
    DRIVER_KERNEL_RELEASE: '5.15.0-88-generic',
    DRIVER_KERNEL_VERSION: '#98-Ubuntu SMP',
    DRIVER_VERSION: '7.0.0+driver',
    FALCO_VERSION: '0.37.1',
    FAKE_FALCOCTL_VERSION: version,
    ...extra,
  });
  const handedOff = () => bin.calls().filter((c) => c.startsWith('falcoctl driver ') && !c.endsWith('--help'));
  return { bin, env, hostRoot, handedOff };
}

const fixed = (hostRoot: string) => [
  '--name=falco',
  '--version=7.0.0+driver',
  '--repo=https://download.falco.org/driver',
  `--host-root=${hostRoot}`,
  '--kernelrelease=5.15.0-88-generic',
  '--kernelversion=#98-Ubuntu SMP',
];

describe('hand-off through the real CLI flow, with a fake falcoctl', () => {
  it.each<[string[], NodeJS.ProcessEnv, string, (hostRoot: string) => string]>([
    [
      [],
      { FAKE_LOADS: '1' },
      '0.11.0',
      (h) =>
        `falcoctl driver install --type=kmod ${fixed(h).join(' ')} --compile=true --download=true --http-timeout=60s`,
    ],
    [
      ['--compile', 'module'],
      { FAKE_LOADS: '1' },
      '0.11.0',
      (h) =>
        `falcoctl driver install --type=kmod ${fixed(h).join(' ')} --compile=true --download=false --http-timeout=60s`,
    ],
    [
      ['bpf'],
      {},
      '0.12.2',
      (h) =>
        `falcoctl driver install --type=ebpf ${fixed(h).join(' ')} --compile=true --download=true --http-timeout=60s`,
    ],
    [
      [],
      { FALCO_BPF_PROBE: '' },
      '0.12.2',
      (h) =>
        `falcoctl driver install --type=ebpf ${fixed(h).join(' ')} --compile=true --download=true --http-timeout=60s`,
    ],
    [
      ['modern_ebpf'],
      {},
      '0.13.0',
      (h) =>
        `falcoctl driver install --type=modern_ebpf ${fixed(h).join(' ')} --compile=true --download=true --http-timeout=60s`,
    ],
    [
      ['auto'],
      {},
      '0.13.0',
      (h) =>
        `falcoctl driver install --type=modern_ebpf,kmod ${fixed(h).join(' ')} --compile=true --download=true --http-timeout=60s`,
    ],
    [['--clean'], {}, '0.13.0', (h) => `falcoctl driver cleanup --type=kmod ${fixed(h).slice(0, 4).join(' ')}`],
    [
      ['kmod', '--http-insecure', '--http-headers', 'X-Token: abc'],
      { FAKE_LOADS: '1', DRIVER_CURL_OPTIONS: '-fsSL -m 90' },
      '0.13.0',
      (h) =>
        `falcoctl driver install --type=kmod ${fixed(h).join(' ')} --compile=true --download=true --http-insecure=true --http-headers=X-Token: abc --http-timeout=90s`,
    ],
    [
      ['--kernel-release', '6.2.0-1-generic', '--kernel-version', '#2 SMP'],
      {
        FAKE_LOADS: '1',
        DRIVER_NAME: 'falco',
        DRIVERS_REPO: 'https://a.example/d https://b.example/d',
        DRIVER_INSECURE_DOWNLOAD: 'y',
        FALCOCTL_DRIVER_HTTP_HEADERS: 'X-A: 1',
      },
      '0.13.0',
      (h) =>
        `falcoctl driver install --type=kmod --name=falco --version=7.0.0+driver --repo=https://a.example/d --repo=https://b.example/d --host-root=${h} --kernelrelease=6.2.0-1-generic --kernelversion=#2 SMP --compile=true --download=true --http-insecure=true --http-headers=X-A: 1 --http-timeout=60s`,
    ],
  ])('%j %j (falcoctl %s)', async (argv, extra, version, expected) => {
    const { env, hostRoot, handedOff } = setup(version, extra);
    const result = await runMain(argv, env, fakePlatform());
    expect(handedOff()).toEqual([expected(hostRoot)]);
    expect(result.stdout).toContain('* Handing off to falcoctl: ');
    expect(result.code).toBe(0);
  });

  it.runIf(process.getuid?.() === 0)("falcoctl's output streams through the real process unchanged", () => {
    const { env } = setup('0.13.0');
    const result = runCli(['modern_ebpf'], env);
    expect(result.stdout).toContain('INFO  Running falcoctl driver install --type=modern_ebpf');
    expect(result.code).toBe(0);
  });

  it('repository credentials reach falcoctl through FALCOCTL_DRIVER_REPOS, never argv, and are never printed (issue #13)', async () => {
    const { bin, env, handedOff } = setup('0.13.0', {
      FAKE_LOADS: '1',
      DRIVERS_REPO: 'https://user:s3cret@a.example/d,https://b.example/d',
    });
    // The fake falcoctl records the repositories it was given in its environment.
    const envLog = path.join(bin.dir, 'falcoctl-env.log');
    env.FAKE_ENV_LOG = envLog;
    const text = readFileSync(path.join(bin.dir, 'falcoctl'), 'utf8');
    writeFileSync(
      path.join(bin.dir, 'falcoctl'),
      text.replace('echo "INFO', 'printf %s "$FALCOCTL_DRIVER_REPOS" > "$FAKE_ENV_LOG"\necho "INFO'),
    );
    for (const args of [
      ['kmod', '--http-headers', 'PRIVATE-TOKEN: tok3n'],
      ['kmod', '--dry-run', '--http-headers', 'PRIVATE-TOKEN: tok3n'],
    ]) {
      const result = await runMain(args, env, fakePlatform());
      expect(result.stdout + result.stderr).not.toMatch(/s3cret|tok3n/);
      expect(result.stdout).toContain("FALCOCTL_DRIVER_REPOS='https://***@a.example/d;https://b.example/d'");
      expect(result.stdout).toContain("'--http-headers=PRIVATE-TOKEN: ***'");
    }
    expect(handedOff()).toHaveLength(1);
    expect(handedOff()[0]).not.toContain('--repo=');
    expect(handedOff()[0]).not.toContain('s3cret');
    expect(readFileSync(envLog, 'utf8')).toBe('https://user:s3cret@a.example/d;https://b.example/d');
  });

  it("falcoctl's exit code is ours", async () => {
    const { env } = setup('0.13.0', { FAKE_FALCOCTL_EXIT: '3' });
    expect((await runMain(['modern_ebpf'], env, fakePlatform())).code).toBe(3);
  });

  it('a kmod install falcoctl calls a success is a failure when the module is not loaded', async () => {
    const { env } = setup('0.13.0');
    const result = await runMain(['kmod'], env, fakePlatform());
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/falcoctl reported success, but the falco module is not loaded/);
  });

  it('auto policy, falcoctl too old: standalone with one line saying why', async () => {
    const { env, handedOff } = setup('0.6.0');
    const result = await runMain(['modern_ebpf'], env, fakePlatform());
    expect(handedOff()).toEqual([]);
    expect(result.stdout).toContain("* Not handing off to falcoctl 0.6.0: falcoctl 0.6.0 has no 'driver' command");
  });

  it('auto policy, bpf on falcoctl 0.13: standalone', async () => {
    const { env, handedOff } = setup('0.13.0', { DRIVER_VERSION: '9.1.0+driver' });
    const result = await runMain(['bpf', '--dry-run'], env, fakePlatform());
    expect(handedOff()).toEqual([]);
    expect(result.stdout).toMatch(/decision: +standalone: falcoctl 0\.13\.0 no longer handles the legacy eBPF probe/);
  });

  it('never: falcoctl is not even asked its version', async () => {
    const { bin, env } = setup('0.13.0');
    const result = await runMain(['modern_ebpf', '--falcoctl', 'never'], env, fakePlatform());
    expect(bin.calls()).toEqual([]);
    expect(result.stdout).not.toContain('falcoctl');
    const viaEnv = await runMain(['modern_ebpf'], { ...env, FALCO_DRIVER_LOADER_FALCOCTL: 'never' }, fakePlatform());
    expect(viaEnv.stdout).not.toContain('Handing off');
    expect(bin.calls()).toEqual([]);
  });

  it('always: a request falcoctl cannot take fails with one line', async () => {
    const { env, handedOff } = setup('0.13.0', { DRIVERS_REPO: 'file:///srv/mirror' });
    const result = await runMain(['--falcoctl=always'], env, fakePlatform());
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'falcoctl cannot take this request: falcoctl cannot download from file:// repositories (the falcoctl policy is always)\n',
    );
    expect(handedOff()).toEqual([]);
  });

  it('always without falcoctl fails; auto without falcoctl runs standalone silently', async () => {
    const env = baseEnv({
      PATH: new FakeBin().path(),
      HOME: tempDir(),
      HOST_ROOT: tempDir(),
      DRIVER_VERSION: '7.0.0+driver',
    });
    const always = await runMain(['modern_ebpf', '--falcoctl', 'always'], env, fakePlatform());
    expect(always.stderr).toMatch(/falcoctl is not on PATH/);
    const auto = await runMain(['modern_ebpf', '--dry-run'], env, fakePlatform());
    expect(auto.stdout).toMatch(/decision: +standalone: falcoctl is not on PATH/);
  });

  it('a bad policy value is one clear line', async () => {
    const { env } = setup('0.13.0');
    const result = await runMain(['--falcoctl', 'sometimes'], env, fakePlatform());
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--falcoctl must be auto, never or always, not "sometimes"');
  });

  it('--dry-run prints the exact command line and runs nothing but the questions', async () => {
    const { bin, env, hostRoot } = setup('0.13.0');
    const result = await runMain(['kmod', '--dry-run'], env, fakePlatform({ uid: 1000 }));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      `falcoctl driver install --type=kmod --name=falco --version=7.0.0+driver --repo=https://download.falco.org/driver --host-root=${hostRoot} --kernelrelease=5.15.0-88-generic '--kernelversion=#98-Ubuntu SMP' --compile=true --download=true --http-timeout=60s`,
    );
    expect(bin.calls()).toEqual(['falcoctl version', 'falcoctl driver install --help']);
  });

  it('--print-env stays local', async () => {
    const { bin, env } = setup('0.13.0');
    const result = await runMain(['--print-env'], env, fakePlatform());
    expect(result.stdout).toMatch(/^ARCH="x86_64"\n/);
    expect(bin.calls()).toEqual([]);
  });
});
