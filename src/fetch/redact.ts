import { redactText } from '../cli/redact.js';

/**
 * What the dry-run JSON, the checksum messages and the mirror mode show of a URL or a message that may carry one:
 * the one redaction of src/cli/redact.ts (issue #13), which finds `user:password@` anywhere in the text.
 */
export function redact(text: string): string {
  return redactText(text);
}
