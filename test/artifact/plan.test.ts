import { describe, expect, it } from 'vitest';
import { downloadUrl, planArtifacts, redactUrl } from '../../src/artifact/plan.js';
import { UserError } from '../../src/errors.js';

const input = {
  driverName: 'falco',
  driverVersion: '6.0.1+driver',
  arch: 'x86_64',
  targetId: 'ubuntu-generic',
  fixedKernelRelease: '5.15.0-76-generic',
  fixedKernelVersion: '83',
  repos: ['https://download.falco.org/driver'],
  home: '/root',
};

describe('planArtifacts', () => {
  it('names the module and probe, their cache paths and URLs as the legacy 0.36 script did', () => {
    const plan = planArtifacts(input);
    expect(plan.kmod.fileName).toBe('falco_ubuntu-generic_5.15.0-76-generic_83.ko');
    expect(plan.ebpf.fileName).toBe('falco_ubuntu-generic_5.15.0-76-generic_83.o');
    // The real example of legacy-loader.md §A.5.
    expect(plan.kmod.urls).toEqual([
      'https://download.falco.org/driver/6.0.1%2Bdriver/x86_64/falco_ubuntu-generic_5.15.0-76-generic_83.ko',
    ]);
    expect(plan.kmod.cachePath).toBe('/root/.falco/6.0.1+driver/x86_64/falco_ubuntu-generic_5.15.0-76-generic_83.ko');
    expect(plan.ebpfSymlink).toBe('/root/.falco/falco-bpf.o');
    expect(plan.sourceDir).toBe('/usr/src/falco-6.0.1+driver');
    expect(plan.kmodName).toBe('falco');
  });

  it('one URL per repo, in order; a trailing slash does not double', () => {
    const plan = planArtifacts({ ...input, repos: ['https://a.example/d/', 'file:///srv/mirror', 'http://b.example'] });
    expect(plan.kmod.urls.map((u) => u.replace(/\/6\.0\.1.*/, ''))).toEqual([
      'https://a.example/d',
      'file:///srv/mirror',
      'http://b.example',
    ]);
  });

  it("encodes '+' in the kernel release too (COS 5.15.133+, Debian backports), and keeps '~'", () => {
    const plan = planArtifacts({
      ...input,
      targetId: 'cos',
      fixedKernelRelease: '5.15.133+',
      fixedKernelVersion: '26~22.04.1',
    });
    expect(plan.kmod.urls[0]).toBe(
      'https://download.falco.org/driver/6.0.1%2Bdriver/x86_64/falco_cos_5.15.133%2B_26~22.04.1.ko',
    );
    expect(plan.kmod.cachePath).toBe('/root/.falco/6.0.1+driver/x86_64/falco_cos_5.15.133+_26~22.04.1.ko');
  });

  it('lsmod shows dashes in the driver name as underscores', () => {
    expect(planArtifacts({ ...input, driverName: 'falco-probe' }).kmodName).toBe('falco_probe');
  });

  it.each([
    ['fixedKernelRelease', '../../etc'],
    ['fixedKernelRelease', ''],
    ['fixedKernelVersion', '1\n2'],
    ['arch', 'x86/64'],
  ])('refuses a %s of %j that cannot be part of a file name', (key, value) => {
    expect(() => planArtifacts({ ...input, [key]: value })).toThrow(UserError);
  });

  it('a space in the kernel version (no leading #) is percent-encoded, not refused', () => {
    expect(planArtifacts({ ...input, fixedKernelVersion: 'SMP PREEMPT' }).kmod.urls[0]).toContain('_SMP%20PREEMPT.ko');
  });
});

describe('downloadUrl and redactUrl', () => {
  it('encodes each segment after the repository', () => {
    expect(downloadUrl('https://h/r', '1.0.0+driver', 'aarch64', 'a b+c.o')).toBe(
      'https://h/r/1.0.0%2Bdriver/aarch64/a%20b%2Bc.o',
    );
  });

  it('hides credentials', () => {
    expect(redactUrl('https://user:pw@host/x')).toBe('https://***@host/x');
    expect(redactUrl('https://host/x')).toBe('https://host/x');
  });
});
