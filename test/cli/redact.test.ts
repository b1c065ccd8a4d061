import { describe, expect, it } from 'vitest';
import { redactArgument, redactText, redactUrl } from '../../src/cli/redact.js';
import { scrub } from '../../src/fetch/failure.js';
import { parseHeaderList } from '../../src/fetch/headers.js';

describe('redaction, in one place (issue #13)', () => {
  it.each([
    ['https://user:secret@host.example/x', 'https://***@host.example/x'],
    ['https://user:p@ss@host.example/x', 'https://***@host.example/x'],
    ['http:user:pw@host.example/x', 'http://***@host.example/x'],
    ['user:pw@host.example/x', '***@host.example/x'],
    ['https://token@host.example/x?y=1', 'https://***@host.example/x?y=1'],
    ['https://host.example/a@b', 'https://host.example/a@b'],
    ['file:///srv/a@b/c', 'file:///srv/a@b/c'],
  ])('%s → %s', (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });

  it('redacts every URL quoted in a message, with or without a scheme', () => {
    const text = "cannot download user:pw@host/x: use an http URL (not 'http:u:p@h/y' nor https://a:p@ss@c/d)";
    expect(scrub(text)).toBe("cannot download ***@host/x: use an http URL (not 'http://***@h/y' nor https://***@c/d)");
    expect(redactText(text)).not.toMatch(/pw|p@ss|u:p/);
  });

  it('header values are never shown, in a hand-off argument or in an error', () => {
    expect(redactArgument('--http-headers=PRIVATE-TOKEN: abc,X-A: 1')).toBe(
      '--http-headers=PRIVATE-TOKEN: ***,X-A: ***',
    );
    expect(redactArgument('--repo=https://u:p@h/x')).toBe('--repo=https://***@h/x');
    expect(() => parseHeaderList('glpat-SECRETVALUE')).toThrow(
      /^Invalid HTTP header \(item 1 of 1\) in --http-headers/,
    );
    expect(() => parseHeaderList('glpat-SECRETVALUE')).not.toThrow(/SECRET/);
    expect(() => parseHeaderList('bad name: SECRETVALUE')).not.toThrow(/SECRET/);
  });
});

describe('the mirror and dry-run JSON redaction (src/fetch/redact.ts)', () => {
  it('is the one redaction: every form the URL parser takes as credentials is hidden', async () => {
    const { redact } = await import('../../src/fetch/redact.js');
    expect(redact('fetch https://user:p@ss@mirror.example/x failed')).toBe('fetch https://***@mirror.example/x failed');
    expect(redact('http:user:pw@mirror.example/x')).toBe('http://***@mirror.example/x');
    expect(redact('https://mirror.example/driver')).toBe('https://mirror.example/driver');
  });
});
