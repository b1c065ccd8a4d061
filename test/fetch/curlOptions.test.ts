import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { parseCurlOptions, splitWords } from '../../src/fetch/curlOptions.js';
import { tempDir } from '../helpers/tmp.js';

describe('splitWords: a POSIX shell split, without the shell', () => {
  it.each([
    ['', []],
    ['  -k  ', ['-k']],
    ['a \'b c\' "d e"', ['a', 'b c', 'd e']],
    ['"a\\"b" "a\\\\b" "a\\nb" "\\$x"', ['a"b', 'a\\b', 'a\\nb', '$x']],
    ["a\\ b 'c\\d'", ['a b', 'c\\d']],
    ["'it'\"'\"'s' x''y", ["it's", 'xy']],
    ['\'\' ""', ['', '']],
    ['a\tb\nc\r\nd', ['a', 'b', 'c', 'd']],
    ['ab\\\ncd', ['abcd']],
    ["'$(id) `id` ; | & > < *' \\; \\& \\$(x) *", ['$(id) `id` ; | & > < *', ';', '&', '$(x)', '*']],
  ])('%j', (text, words) => {
    expect(splitWords(text)).toEqual(words);
  });

  // Issue #8: what a shell would have run or redirected is refused, not passed on as a literal.
  it.each([
    ['$(id)', '$(', 1],
    ['-H "X: $(id)"', '$(', 8],
    ['`id`', '`', 1],
    ['-H "X: `id`"', '`', 8],
    ['-k ; rm -rf /', ';', 4],
    ['-k | sh', '|', 4],
    ['-k && x', '&', 4],
    ['-k > /etc/x', '>', 4],
    ['-k < /etc/x', '<', 4],
  ])('refuses the shell syntax in %j', (text, what, at) => {
    expect(() => splitWords(text)).toThrow(
      new UserError(
        `DRIVER_CURL_OPTIONS contains shell syntax ('${what}' at character ${at}): it is never run by a shell, so nothing in it is expanded or run; remove it, or put it in single quotes to send it as text`,
      ),
    );
  });

  it.each([
    ['-H "Authorization: Bearer secret', 'double', 4],
    ["-u 'alice:secret", 'single', 4],
  ])('rejects an unbalanced quote in %j without echoing it', (text, kind, at) => {
    const error = (() => {
      try {
        splitWords(text);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toBe(
      `DRIVER_CURL_OPTIONS has an unbalanced quote: the ${kind} quote at character ${at} is never closed; close it, or escape it with a backslash`,
    );
    expect((error as Error).message).not.toContain('secret');
  });
});

describe('parseCurlOptions', () => {
  it.each([
    ['-k', { insecure: true }],
    ['--insecure', { insecure: true }],
    ['-fsSLk', { insecure: true }],
    ['--cacert /etc/ssl/my.pem', { caFile: '/etc/ssl/my.pem' }],
    ['--cacert=/etc/ssl/my.pem', { caFile: '/etc/ssl/my.pem' }],
    ['-x http://proxy:3128', { proxy: 'http://proxy:3128' }],
    ['-xhttp://proxy:3128', { proxy: 'http://proxy:3128' }],
    ['--proxy proxy:3128', { proxy: 'proxy:3128' }],
    ['--proxy=http://proxy:3128', { proxy: 'http://proxy:3128' }],
    ['-U pu:pp', { proxyUser: 'pu:pp' }],
    ['-Upu:pp', { proxyUser: 'pu:pp' }],
    ['--proxy-user pu:pp', { proxyUser: 'pu:pp' }],
    ['-u alice:s3cret', { user: 'alice:s3cret' }],
    ['--user alice:s3cret', { user: 'alice:s3cret' }],
    ['-H "Authorization: Bearer x"', { headers: [['Authorization', 'Bearer x']] }],
    [
      '-H \'A: 1\' --header "B:  two words " -HC:3 --header=D:4',
      {
        headers: [
          ['A', '1'],
          ['B', 'two words'],
          ['C', '3'],
          ['D', '4'],
        ],
      },
    ],
    ["-H 'X-Empty;'", { headers: [['X-Empty', '']] }],
    ["-H 'X-Removed:'", {}],
    ['--connect-timeout 2.5', { connectTimeoutMs: 2500 }],
    ['--connect-timeout .5', { connectTimeoutMs: 500 }],
    ['-m 30', { maxTimeMs: 30_000 }],
    ['-m30', { maxTimeMs: 30_000 }],
    ['-sSm 10', { maxTimeMs: 10_000 }],
    ['--max-time 90', { maxTimeMs: 90_000 }],
    ['--max-time 0', { maxTimeMs: Number.POSITIVE_INFINITY }],
    ['--retry 5', { retries: 5 }],
    ['--retry 0', { retries: 0 }],
    ['--retry-max-time 10', { retryMaxTimeMs: 10_000 }],
    ['-L -f -s -S -fsSL -sS --location --fail --silent --show-error --create-dirs --retry-connrefused', {}],
    [
      '-H "Authorization: Bearer x" --cacert /etc/ssl/my.pem -x http://proxy:3128',
      { headers: [['Authorization', 'Bearer x']], caFile: '/etc/ssl/my.pem', proxy: 'http://proxy:3128' },
    ],
  ])('%s', (text, options) => {
    expect(parseCurlOptions(text)).toEqual({ options, warnings: [] });
  });

  it.each([
    ['--limit-rate 100K', ['--limit-rate 100K']],
    ['--limit-rate=100K', ['--limit-rate 100K']],
    ['-v --compressed', ['-v', '--compressed']],
    ['-sSv', ['-v']],
    ['-o /tmp/x -k', ['-o /tmp/x']],
    ['-A agent', ['-A agent']],
    [
      '--pass hunter2 -dsecret --cookie c=1 --url https://u:secret@x',
      ['--pass ***', '-d ***', '--cookie ***', '--url ***'],
    ],
  ])('ignores %s with one warning per option', (text, names) => {
    const { options, warnings } = parseCurlOptions(text);
    expect(options).toEqual(text.includes('-k') ? { insecure: true } : {});
    expect(warnings).toEqual(
      names.map((n) => `DRIVER_CURL_OPTIONS: ignoring ${n} (not supported by falco-driver-loader)`),
    );
    expect(warnings.join('\n')).not.toMatch(/hunter2|secret|c=1/);
  });

  it('warns once, without echoing them, about words that are not options (an unquoted header)', () => {
    const { options, warnings } = parseCurlOptions('-H Authorization: Bearer tok3n');
    expect(options).toEqual({});
    expect(warnings).toEqual([
      "DRIVER_CURL_OPTIONS: ignoring 2 words that are not options (quote values with spaces, e.g. -H 'Name: value')",
    ]);
  });

  it('runs nothing: command substitutions, backticks and separators are refused, or literal in single quotes', () => {
    const dir = tempDir();
    const marks = ['a', 'b', 'c', 'd'].map((m) => path.join(dir, m));
    const text = `-H "X-A: $(touch ${marks[0]})" ; touch ${marks[2]} | touch ${marks[3]} &`;
    expect(() => parseCurlOptions(text)).toThrow(UserError);
    const { options } = parseCurlOptions(`-H 'X-B: \`touch ${marks[1]}\` $(touch ${marks[0]})'`);
    expect(options.headers).toEqual([['X-B', `\`touch ${marks[1]}\` $(touch ${marks[0]})`]]);
    for (const mark of marks) expect(existsSync(mark)).toBe(false);
  });

  it.each([
    ['--max-time abc', /^DRIVER_CURL_OPTIONS: --max-time needs a number of seconds such as 5 or 2\.5, got 'abc'$/],
    ['-m -1', /^DRIVER_CURL_OPTIONS: -m needs a number of seconds/],
    ['--connect-timeout 1e3', /--connect-timeout needs a number of seconds/],
    ['--retry 2.5', /^DRIVER_CURL_OPTIONS: --retry needs a whole number of retries, got '2\.5'$/],
    ['--retry-max-time', /^DRIVER_CURL_OPTIONS: --retry-max-time needs a value after it$/],
    ['-sSx', /^DRIVER_CURL_OPTIONS: -x needs a value after it$/],
    ['-H novalue', /^DRIVER_CURL_OPTIONS: -H needs a header written as 'Name: value'/],
    ['--header "Bad Name: v"', /--header needs a header/],
  ])('rejects %s with one line', (text, message) => {
    expect(() => parseCurlOptions(text)).toThrow(UserError);
    expect(() => parseCurlOptions(text)).toThrow(message);
  });
});
