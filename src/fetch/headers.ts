import { UserError } from '../errors.js';

/**
 * `--http-headers` / FALCOCTL_DRIVER_HTTP_HEADERS: `Name: value,Other: value` (falcoctl's format). falcoctl
 * panicked on an item without `:` (falcoctl-driver.md §11.7); here it is a clear error. Header values are often
 * secrets (PRIVATE-TOKEN, Authorization), so an error names the item by its position and never shows a value.
 * A control character (CR, LF) in a value is refused here, when the settings are read (cli/settings.ts), so the
 * run stops before the Cleaning phase instead of failing every download after the module was unloaded (issue #13).
 */
export function parseHeaderList(text: string | undefined): Array<[string, string]> {
  if (text === undefined || text.trim() === '') return [];
  const items = text.split(',').filter((item) => item.trim() !== '');
  return items.map((item, i) => {
    const which = `item ${i + 1} of ${items.length}`;
    const colon = item.indexOf(':');
    const name = colon < 0 ? '' : item.slice(0, colon).trim();
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new UserError(
        `Invalid HTTP header (${which}) in --http-headers: it needs a name before ':'; write them as 'Name: value,Other: value'`,
      );
    }
    const value = item.slice(colon + 1).trim();
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
    if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) {
      throw new UserError(
        `Invalid HTTP header ${name} (${which}) in --http-headers: its value contains a control character such as CR or LF`,
      );
    }
    return [name, value] as [string, string];
  });
}
