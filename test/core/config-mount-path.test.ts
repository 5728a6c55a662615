/**
 * The config's mountPath is where every task of a run sees the result volume (a consumer its run's directory, a
 * producer its own directory below it): judged after normalising it, so no spelling reaches Tekton's /tekton or /.
 */
import test from 'ava';
import { parseConfig } from '../../src/core/config.js';

test('a mountPath is normalised: doubled slashes, "." and a trailing slash', (t) => {
  t.is(parseConfig({ mountPath: '/tlr//results/./' }).mountPath, '/tlr/results');
  t.is(parseConfig({ mountPath: '/tektonic' }).mountPath, '/tektonic', 'only /tekton itself and below are Tekton\'s');
});

for (const bad of ['/tekton', '/tekton/results', '/./tekton', '//tekton/x', '/', '//', '/.', '/a/../tekton', 'relative', '/a b']) {
  test(`mountPath ${JSON.stringify(bad)} is refused, naming the key and what is expected`, (t) => {
    const error = t.throws(() => parseConfig({ mountPath: bad }));
    t.regex(error.message, /config key "mountPath": expected an absolute path other than \/ and outside \/tekton/);
    t.true(error.message.includes(`found "${bad}"`));
  });
}
