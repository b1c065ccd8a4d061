import { describe, expect, it } from 'vitest';
import { parseOsRelease } from '../../src/host/osRelease.js';

describe('parseOsRelease', () => {
  it.each([
    ['ID=ubuntu', { ID: 'ubuntu' }],
    ['ID="rocky"', { ID: 'rocky' }],
    ["ID='ol'", { ID: 'ol' }],
    ['NAME="Red Hat \\"Enterprise\\" Linux"', { NAME: 'Red Hat "Enterprise" Linux' }],
    ['ID=ubuntu # trailing comment', { ID: 'ubuntu' }],
    ['  ID=debian  ', { ID: 'debian' }],
    ['export ID=alpine', { ID: 'alpine' }],
    ['ID="deb"ian', { ID: 'debian' }],
    ['VERSION="9.3 (Blue Onyx)"', { VERSION: '9.3 (Blue Onyx)' }],
    ['ID=first\nID=second', { ID: 'second' }],
    ['ID=a\r\nVERSION_ID=1\r\n', { ID: 'a', VERSION_ID: '1' }],
  ])('%j', (text, expected) => {
    expect(parseOsRelease(text)).toEqual(expected);
  });

  it('skips comments, blank lines and lines that are not assignments', () => {
    const text = '# comment\n\nthis is not shell\n[section]\nID=fedora\n=nokey\n1BAD=x\nVERSION_ID=39\n';
    expect(parseOsRelease(text)).toEqual({ ID: 'fedora', VERSION_ID: '39' });
  });

  it('skips a line with an unbalanced quote instead of swallowing the rest of the file', () => {
    expect(parseOsRelease('NAME="broken\nID=arch\n')).toEqual({ ID: 'arch' });
  });

  it('never expands or executes anything: command substitutions stay literal text', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal shell text is the input under test
    expect(parseOsRelease('ID="$(touch /tmp/pwned)"\nVERSION_ID=`id`\nX=${HOME}')).toEqual({
      ID: '$(touch /tmp/pwned)',
      VERSION_ID: '`id`',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal shell text must come back unexpanded
      X: '${HOME}',
    });
  });

  it('survives binary garbage', () => {
    const garbage = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)).toString('utf8');
    expect(parseOsRelease(`${garbage}\nID=debian\n${garbage}`).ID).toBe('debian');
  });
});
