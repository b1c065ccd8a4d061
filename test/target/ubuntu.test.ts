import { describe, expect, it } from 'vitest';
import { type Row, resolve, t } from './helpers.js';

const rows: Row[] = [
  {
    id: 'ubuntu',
    release: '5.15.0-88-generic',
    version: '#98-Ubuntu SMP',
    expect: t('ubuntu-generic', '5.15.0-88-generic', '98'),
  },
  {
    id: 'ubuntu',
    release: '5.15.0-1009-aws',
    version: '#26~22.04.1-Ubuntu SMP Mon',
    expect: t('ubuntu-aws', '5.15.0-1009-aws', '26~22.04.1'),
  },
  {
    id: 'ubuntu',
    release: '5.4.0-1103-aws-5.4',
    version: '#111~18.04.1-Ubuntu SMP Tue',
    expect: t('ubuntu-aws', '5.4.0-1103-aws-5.4', '111~18.04.1'),
  },
  {
    id: 'ubuntu',
    release: '5.0.0-1028-aws-5.0',
    version: '#31-Ubuntu SMP',
    expect: t('ubuntu-aws', '5.0.0-1028-aws-5.0', '31'),
  },
  {
    id: 'ubuntu',
    release: '6.5.0-9-lowlatency',
    version: '#9-Ubuntu SMP',
    expect: t('ubuntu-lowlatency', '6.5.0-9-lowlatency', '9'),
  },
  {
    id: 'ubuntu',
    release: '5.15.0-1046-gke',
    version: '#51-Ubuntu SMP',
    expect: t('ubuntu-gke', '5.15.0-1046-gke', '51'),
  },
  { id: 'ubuntu', release: '5.0.0', version: '#1 SMP', expect: t('ubuntu-generic', '5.0.0', '1') },
  // The tilde form needs "-Ubuntu " after it; otherwise the generic digits rule applies (bash 0.36: #9.1 → 9).
  {
    id: 'ubuntu',
    release: '5.15.0-88-generic',
    version: '#9.1',
    expect: t('ubuntu-generic', '5.15.0-88-generic', '9'),
  },
  {
    id: 'ubuntu',
    release: '5.15.0-88-generic',
    version: '#98~20.04.1 SMP',
    expect: t('ubuntu-generic', '5.15.0-88-generic', '98'),
  },
];

describe('ubuntu', () => {
  it.each(rows)('$release / $version → $expect.targetId $expect.fixedKernelVersion', (row) => {
    expect(resolve(row)).toEqual(row.expect);
  });
});
