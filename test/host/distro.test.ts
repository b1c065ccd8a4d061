import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { readDistroFacts } from '../../src/host/distro.js';
import { tempDir, writeTree } from '../helpers/tmp.js';

function facts(files: Record<string, string>) {
  const root = tempDir();
  writeTree(root, files);
  return { root, facts: readDistroFacts(root) };
}

describe('readDistroFacts (under HOST_ROOT)', () => {
  it('reads etc/os-release and lower-cases the ID', () => {
    const { root, facts: f } = facts({ 'etc/os-release': 'ID="RHEL"\nVERSION_ID="8.9"\n' });
    expect(f.osId).toBe('rhel');
    expect(f.osRelease.VERSION_ID).toBe('8.9');
    expect(f.source).toBe(`${root}/etc/os-release`);
  });

  it('falls back to usr/lib/os-release', () => {
    expect(facts({ 'usr/lib/os-release': 'ID=fedora\n' }).facts.osId).toBe('fedora');
  });

  it.each([
    ['etc/debian_version', 'debian'],
    ['etc/centos-release', 'centos'],
    ['etc/redhat-release', 'rhel'],
  ])('without os-release, %s means %s', (file, id) => {
    expect(facts({ [file]: 'x\n' }).facts.osId).toBe(id);
  });

  it('keeps the legacy fallback order: debian_version before centos-release before redhat-release', () => {
    expect(facts({ 'etc/redhat-release': 'x', 'etc/centos-release': 'x' }).facts.osId).toBe('centos');
    expect(facts({ 'etc/redhat-release': 'x', 'etc/debian_version': 'x' }).facts.osId).toBe('debian');
  });

  it('an os-release without ID falls through to the fallbacks, then to undetermined (legacy: empty target)', () => {
    expect(facts({ 'etc/os-release': 'NAME=x\n', 'etc/debian_version': '12' }).facts.osId).toBe('debian');
    expect(facts({ 'etc/os-release': 'NAME=x\n' }).facts.osId).toBeUndefined();
  });

  it('an ID that cannot be a target name (a command substitution, say) is not used', () => {
    expect(facts({ 'etc/os-release': 'ID=$(touch /tmp/pwned)\n' }).facts.osId).toBeUndefined();
  });

  it('etc/VERSION makes it minikube, even without other files', () => {
    expect(facts({ 'etc/os-release': 'ID=buildroot\n', 'etc/VERSION': 'v1.26.0' }).facts.osId).toBe('minikube');
    const alone = facts({ 'etc/VERSION': 'v1.26.0' }).facts;
    expect(alone.osId).toBe('minikube');
    expect(alone.minikubeVersionFile).toBe('v1.26.0');
  });

  it('nothing at all is undetermined', () => {
    expect(facts({}).facts.osId).toBeUndefined();
  });

  it('a directory where os-release should be is ignored', () => {
    const root = tempDir();
    mkdirSync(path.join(root, 'etc/os-release'), { recursive: true });
    writeFileSync(path.join(root, 'etc/centos-release'), 'x');
    expect(readDistroFacts(root).osId).toBe('centos');
  });

  it('reads only the head of a huge os-release', () => {
    const root = tempDir();
    writeTree(root, { 'etc/os-release': `ID=debian\n${'X'.repeat(10 * 1024 * 1024)}\n` });
    expect(readDistroFacts(root).osId).toBe('debian');
  });

  it('a HOST_ROOT that is missing or not a directory is a clear user error', () => {
    const root = tempDir();
    writeFileSync(path.join(root, 'file'), 'x');
    expect(() => readDistroFacts(path.join(root, 'missing'))).toThrow(UserError);
    expect(() => readDistroFacts(path.join(root, 'missing'))).toThrow(/does not exist/);
    expect(() => readDistroFacts(path.join(root, 'file'))).toThrow(/is not a directory/);
  });
});
