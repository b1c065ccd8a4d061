import { describe, expect, it } from 'vitest';
import type { Falcoctl } from '../../src/falcoctl/detect.js';
import { parseFalcoctlVersion, parseLongFlags } from '../../src/falcoctl/detect.js';
import { type HandOffRequest, translate } from '../../src/falcoctl/translate.js';
import { parseCurlOptions } from '../../src/fetch/curlOptions.js';

const ALL_FLAGS = new Set([
  '--type',
  '--name',
  '--version',
  '--repo',
  '--host-root',
  '--kernelrelease',
  '--kernelversion',
  '--compile',
  '--download',
  '--http-timeout',
  '--http-insecure',
  '--http-headers',
]);
const falcoctl = (version: string, flags: Set<string> = ALL_FLAGS): Falcoctl => ({
  path: '/usr/bin/falcoctl',
  version,
  installFlags: flags,
});

const base: HandOffRequest = {
  driver: 'kmod',
  clean: false,
  enableCompile: true,
  enableDownload: true,
  driverName: 'falco',
  driverVersion: '7.0.0+driver',
  repos: ['https://download.falco.org/driver'],
  hostRoot: '',
  kernelRelease: '6.1.0-13-amd64',
  kernelVersion: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)',
  fixedKernelRelease: '6.1.55-1-amd64',
  insecure: false,
  headers: [],
  curl: {},
  tmpdir: '/tmp',
  bpfUseLocalKernelSources: false,
};

const common = [
  '--name=falco',
  '--version=7.0.0+driver',
  '--repo=https://download.falco.org/driver',
  '--host-root=/',
  '--kernelrelease=6.1.0-13-amd64',
  '--kernelversion=#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)',
];

describe('translate: legacy request → falcoctl argv', () => {
  it.each<[string, Partial<HandOffRequest>, string, string[]]>([
    [
      'no arguments',
      {},
      '0.11.0',
      ['driver', 'install', '--type=kmod', ...common, '--compile=true', '--download=true', '--http-timeout=60s'],
    ],
    [
      '--compile module',
      { enableDownload: false },
      '0.11.0',
      ['driver', 'install', '--type=kmod', ...common, '--compile=true', '--download=false', '--http-timeout=60s'],
    ],
    [
      '--download',
      { enableCompile: false },
      '0.11.0',
      ['driver', 'install', '--type=kmod', ...common, '--compile=false', '--download=true', '--http-timeout=60s'],
    ],
    [
      'bpf on 0.12',
      { driver: 'ebpf' },
      '0.12.2',
      ['driver', 'install', '--type=ebpf', ...common, '--compile=true', '--download=true', '--http-timeout=60s'],
    ],
    [
      'modern_ebpf',
      { driver: 'modern_ebpf' },
      '0.13.0',
      ['driver', 'install', '--type=modern_ebpf', ...common, '--compile=true', '--download=true', '--http-timeout=60s'],
    ],
    [
      'auto',
      { driver: 'auto' },
      '0.13.0',
      [
        'driver',
        'install',
        '--type=modern_ebpf,kmod',
        ...common,
        '--compile=true',
        '--download=true',
        '--http-timeout=60s',
      ],
    ],
    [
      '--clean keeps the kmod meaning (no kernel flags: 0.7.x cleanup refuses them)',
      { clean: true },
      '0.13.0',
      ['driver', 'cleanup', '--type=kmod', ...common.slice(0, 4)],
    ],
    [
      '--clean with auto still cleans the kmod',
      { clean: true, driver: 'auto' },
      '0.13.0',
      ['driver', 'cleanup', '--type=kmod', ...common.slice(0, 4)],
    ],
    [
      'insecure, headers, max time, two repos, HOST_ROOT',
      {
        insecure: true,
        headers: [['X-Token', 'abc']],
        curl: parseCurlOptions('-m 30 -H "X-Other: 1"').options,
        repos: ['https://a.example/d', 'https://b.example/d'],
        hostRoot: '/host',
      },
      '0.11.0',
      [
        'driver',
        'install',
        '--type=kmod',
        '--name=falco',
        '--version=7.0.0+driver',
        '--repo=https://a.example/d',
        '--repo=https://b.example/d',
        '--host-root=/host',
        '--kernelrelease=6.1.0-13-amd64',
        '--kernelversion=#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)',
        '--compile=true',
        '--download=true',
        '--http-insecure=true',
        '--http-headers=X-Token: abc,X-Other: 1',
        '--http-timeout=30s',
      ],
    ],
    [
      'curl -k alone means insecure',
      { curl: parseCurlOptions('-k').options },
      '0.11.0',
      [
        'driver',
        'install',
        '--type=kmod',
        ...common,
        '--compile=true',
        '--download=true',
        '--http-insecure=true',
        '--http-timeout=60s',
      ],
    ],
  ])('%s (falcoctl %s)', (_name, over, version, argv) => {
    expect(translate({ ...base, ...over }, falcoctl(version))).toEqual({ kind: 'falcoctl', argv });
  });
});

describe('translate: requests that stay standalone, with the reason', () => {
  it.each<[string, Partial<HandOffRequest>, Falcoctl | undefined, RegExp]>([
    ['falcoctl absent', {}, undefined, /not on PATH/],
    ['falcoctl too old', {}, falcoctl('0.6.1'), /has no 'driver' command \(it arrived in 0\.7\.0\)/],
    ['unknown version', {}, falcoctl('0.0.0'), /did not report a version/],
    ['bpf on falcoctl 0.13', { driver: 'ebpf' }, falcoctl('0.13.0'), /dropped in 0\.13\.0/],
    ['bpf --clean', { driver: 'ebpf', clean: true }, falcoctl('0.12.2'), /refused for bpf/],
    [
      'BPF_USE_LOCAL_KERNEL_SOURCES',
      { driver: 'ebpf', bpfUseLocalKernelSources: true },
      falcoctl('0.12.2'),
      /BPF_USE_LOCAL_KERNEL_SOURCES/,
    ],
    ['file:// repo', { repos: ['file:///srv/mirror'] }, falcoctl('0.13.0'), /file:\/\//],
    ['--cacert', { curl: parseCurlOptions('--cacert /etc/ca.pem').options }, falcoctl('0.13.0'), /--cacert/],
    ['proxy user', { curl: parseCurlOptions('-x http://p:3128 -U a:b').options }, falcoctl('0.13.0'), /proxy/],
    ['server user', { curl: parseCurlOptions('-u a:b').options }, falcoctl('0.13.0'), /-u\/--user/],
    ['retries', { curl: parseCurlOptions('--retry 5').options }, falcoctl('0.13.0'), /--retry/],
    [
      'header value with a colon',
      { headers: [['Authorization', 'Basic a:b']] },
      falcoctl('0.13.0'),
      /containing ',' or ':'/,
    ],
    [
      'kernel release with +',
      { fixedKernelRelease: '5.15.133+' },
      falcoctl('0.13.0'),
      /cannot parse kernel release 5\.15\.133\+/,
    ],
    ['TMPDIR elsewhere', { tmpdir: '/var/tmp' }, falcoctl('0.13.0'), /ignores TMPDIR=\/var\/tmp/],
    [
      'a flag this build lacks',
      { headers: [['X-A', 'b']] },
      falcoctl('0.7.0', new Set([...ALL_FLAGS].filter((f) => f !== '--http-headers'))),
      /does not accept --http-headers/,
    ],
  ])('%s', (_name, over, fc, reason) => {
    const result = translate({ ...base, ...over }, fc);
    expect(result.kind).toBe('standalone');
    expect(result.kind === 'standalone' ? result.reason : '').toMatch(reason);
  });

  it('TMPDIR only matters when something is compiled; a + release whatever is asked (falcoctl cannot parse it)', () => {
    expect(translate({ ...base, tmpdir: '/var/tmp', enableCompile: false }, falcoctl('0.13.0')).kind).toBe('falcoctl');
    expect(
      translate({ ...base, fixedKernelRelease: '5.15.133+', enableDownload: false }, falcoctl('0.13.0')).kind,
    ).toBe('standalone');
  });
});

describe('reading falcoctl', () => {
  it.each([
    ['Client Version: v0.12.2\n', '0.12.2'],
    ['Client Version: 0.7.0\nGo Version: go1.21\n', '0.7.0'],
    ['0.13.0\n', '0.13.0'],
    ['nonsense', undefined],
  ])('%j → %s', (text, version) => {
    expect(parseFalcoctlVersion(text)).toBe(version);
  });

  it('long flags from help text', () => {
    const help = `Flags:\n      --compile    Whether to enable local compilation of drivers (default true)\n      --http-headers string   Optional\n  -h, --help   help\nGlobal Flags:\n      --type strings`;
    expect([...parseLongFlags(help)].sort()).toEqual(['--compile', '--help', '--http-headers', '--type']);
  });
});
