import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { type Row, resolve, t } from './helpers.js';

describe('flatcar', () => {
  const rows: Row[] = [
    {
      id: 'flatcar',
      os: { VERSION_ID: '3602.2.1' },
      release: '5.15.136-flatcar',
      version: '#1 SMP',
      expect: t('flatcar', '3602.2.1', '1'),
    },
    // Legacy produced an empty release here; keeping the kernel's is the sane fallback.
    {
      id: 'flatcar',
      os: {},
      release: '5.15.136-flatcar',
      version: '#1 SMP',
      expect: t('flatcar', '5.15.136-flatcar', '1'),
    },
  ];
  it.each(rows)('VERSION_ID=$os.VERSION_ID', (row) => expect(resolve(row)).toEqual(row.expect));
});

describe('minikube', () => {
  const rows: Row[] = [
    {
      id: 'minikube',
      minikube: 'v1.26.0-1655407986-14197\n',
      release: '5.10.57',
      version: '#1 SMP',
      expect: t('minikube', '5.10.57', '1_1.26.0'),
    },
    {
      id: 'minikube',
      minikube: 'v1.32.0',
      release: '5.10.57',
      version: '#1 SMP',
      expect: t('minikube', '5.10.57', '1_1.32.0'),
    },
  ];
  it.each(rows)('$minikube', (row) => expect(resolve(row)).toEqual(row.expect));

  it('an /etc/VERSION without x.y.z stops with the legacy stdout line and exit 1', () => {
    const row: Row = { id: 'minikube', minikube: 'garbage', release: '5.10.57', version: '#1', expect: t('', '', '') };
    let caught: unknown;
    try {
      resolve(row);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UserError);
    expect((caught as UserError).stdout).toBe('* Unable to extract minikube version from /host/etc/VERSION\n');
    expect((caught as UserError).exitCode).toBe(1);
  });
});

describe('bottlerocket', () => {
  const rows: Row[] = [
    {
      id: 'bottlerocket',
      os: { VERSION_ID: '1.11.0', VARIANT_ID: 'aws-k8s-1.24' },
      release: '5.15.59',
      version: '#1 SMP',
      expect: t('bottlerocket', '5.15.59', '1_1.11.0-aws'),
    },
    {
      id: 'bottlerocket',
      os: { VERSION_ID: '1.19.2', VARIANT_ID: 'vmware-k8s-1.28' },
      release: '6.1.61',
      version: '#1 SMP',
      expect: t('bottlerocket', '6.1.61', '1_1.19.2-vmware'),
    },
  ];
  it.each(rows)('$os.VARIANT_ID', (row) => expect(resolve(row)).toEqual(row.expect));
});

describe('talos', () => {
  const rows: Row[] = [
    {
      id: 'talos',
      os: { VERSION_ID: 'v1.4.1' },
      release: '6.1.27-talos',
      version: '#1 SMP',
      expect: t('talos', '6.1.27-talos', '1_v1.4.1'),
    },
  ];
  it.each(rows)('$os.VERSION_ID', (row) => expect(resolve(row)).toEqual(row.expect));
});

describe('generic and undetermined', () => {
  const rows: Row[] = [
    {
      id: 'centos',
      release: '3.10.0-1160.el7.x86_64',
      version: '#1 SMP Mon',
      expect: t('centos', '3.10.0-1160.el7.x86_64', '1'),
    },
    {
      id: 'rhel',
      release: '4.18.0-513.5.1.el8_9.x86_64',
      version: '#1 SMP',
      expect: t('rhel', '4.18.0-513.5.1.el8_9.x86_64', '1'),
    },
    { id: 'cos', release: '5.15.133+', version: '#1 SMP Sat', expect: t('cos', '5.15.133+', '1') },
    // Text before the '#' is kept and the rest replaced by the digits (legacy sed), no '#' leaves it whole.
    { id: 'arch', release: '6.6.1-arch1-1', version: 'x #12 SMP', expect: t('arch', '6.6.1-arch1-1', 'x 12') },
    { id: 'arch', release: '6.6.1-arch1-1', version: 'SMP PREEMPT', expect: t('arch', '6.6.1-arch1-1', 'SMP PREEMPT') },
    {
      id: undefined,
      release: '6.1.0-13-amd64',
      version: '#1 SMP Debian 6.1.55-1',
      expect: t('undetermined', '6.1.0-13-amd64', '1'),
    },
  ];
  it.each(rows)('$id', (row) => expect(resolve(row)).toEqual(row.expect));
});
