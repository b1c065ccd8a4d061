import { describe, expect, it } from 'vitest';
import { type Row, resolve, t } from './helpers.js';

const rel = '4.14.327-246.539.amzn2.x86_64';
const rows: Row[] = [
  { id: 'amzn', os: { VERSION_ID: '2' }, release: rel, version: '#1 SMP', expect: t('amazonlinux2', rel, '1') },
  { id: 'amzn', os: { VERSION_ID: '2022' }, release: rel, version: '#1 SMP', expect: t('amazonlinux2022', rel, '1') },
  { id: 'amzn', os: { VERSION_ID: '2023' }, release: rel, version: '#1 SMP', expect: t('amazonlinux2023', rel, '1') },
  { id: 'amzn', os: { VERSION_ID: '2018.03' }, release: rel, version: '#1 SMP', expect: t('amazonlinux', rel, '1') },
  { id: 'amzn', os: {}, release: rel, version: '#7 SMP', expect: t('amazonlinux', rel, '7') },
];

describe('amzn', () => {
  it.each(rows)('VERSION_ID=$os.VERSION_ID → $expect.targetId', (row) => {
    expect(resolve(row)).toEqual(row.expect);
  });
});
