import test from 'ava';
import { parseConfig } from '../../src/core/config.js';
import { withFsGroup } from '../../src/core/pod-template.js';

test('fsGroup: off by default, a group id when set, per namespace too, and a clear error otherwise', (t) => {
  t.is(parseConfig({}).fsGroup, undefined);
  t.is(parseConfig({ fsGroup: '65532' }).fsGroup, 65532);
  t.is(parseConfig({ 'namespace.ci.fsGroup': '1001' }, 'ci').fsGroup, 1001);
  t.is(parseConfig({ 'namespace.ci.fsGroup': '1001' }, 'other').fsGroup, undefined);
  t.throws(() => parseConfig({ fsGroup: 'staff' }), { message: 'config key "fsGroup": expected a group id (a whole number, e.g. 65532) or empty, found "staff"' });
});

test("a run's own fsGroup (and change policy) is kept; otherwise the admin's is added to its pod template", (t) => {
  t.is(withFsGroup(undefined, undefined), undefined);
  const own = { securityContext: { fsGroup: 5 } };
  t.is(withFsGroup(own, 65532), own);
  t.deepEqual(withFsGroup({ nodeSelector: { a: 'b' }, securityContext: { fsGroupChangePolicy: 'Always' } }, 65532), {
    nodeSelector: { a: 'b' },
    securityContext: { fsGroup: 65532, fsGroupChangePolicy: 'Always' },
  });
});

test('storageClassName: empty for the default class, or a valid StorageClass name; checked before any PVC is made', (t) => {
  t.is(parseConfig({}).storageClassName, '');
  t.is(parseConfig({ storageClassName: ' fast.csi-1 ' }).storageClassName, 'fast.csi-1');
  t.throws(() => parseConfig({ storageClassName: 'Fast_SSD' }), {
    message: `config key "storageClassName": expected a StorageClass name (lowercase letters, digits, '-' and '.') or empty for the default class, found "Fast_SSD"`,
  });
});
