import { describe, expect, it } from 'vitest';
import { type Row, resolve, t } from './helpers.js';

const rows: Row[] = [
  {
    id: 'debian',
    release: '6.1.0-13-amd64',
    version: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)',
    expect: t('debian', '6.1.55-1-amd64', '1'),
  },
  {
    id: 'debian',
    release: '6.1.0-10-cloud-amd64',
    version: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.38-2 (2023-07-27)',
    expect: t('debian', '6.1.38-2-cloud-amd64', '1'),
  },
  {
    id: 'debian',
    release: '5.10.0-0.deb10.22-rt-amd64',
    version: '#1 SMP PREEMPT_RT Debian 5.10.178-3~deb10u1 (2023-05-01)',
    expect: t('debian', '5.10.178-3-rt-amd64', '1'),
  },
  {
    id: 'debian',
    release: '6.1.0-13-arm64',
    version: '#1 SMP Debian 6.1.55-1 (2023-09-29)',
    expect: t('debian', '6.1.55-1-arm64', '1'),
  },
  // A kernel without the Debian package version in `uname -v` (custom build): nothing to rewrite.
  { id: 'debian', release: '6.6.7-custom', version: '#3 SMP', expect: t('debian', '6.6.7-custom', '3') },
  // A real release but an unknown arch suffix: the real release alone.
  {
    id: 'debian',
    release: '6.1.0-13-686-pae',
    version: '#1 SMP Debian 6.1.55-1 (2023-09-29)',
    expect: t('debian', '6.1.55-1', '1'),
  },
];

describe('debian', () => {
  it.each(rows)('$release + $version → $expect.fixedKernelRelease', (row) => {
    expect(resolve(row)).toEqual(row.expect);
  });
});
