/** The config's sizes: Kubernetes quantities, and a largest result that can fit the volume each run gets. */
import test from 'ava';
import { parseConfig } from '../../src/core/config.js';

test('quantities Kubernetes accepts are accepted (1e9, +1Gi, 1.5Gi), a block scalar\'s line break trimmed', (t) => {
  const config = parseConfig({ size: '+4Gi', maxResultSize: '1e9', maxSubstitutedSize: '1.5Gi\n' });
  t.is(config.maxResultSize, 1e9);
  t.is(config.maxSubstitutedSize, 1.5 * 2 ** 30);
  t.is(config.size, '+4Gi', 'passed to the claim template as written');
});

test('maxResultSize over the volume size is refused, naming both keys and values', (t) => {
  const error = t.throws(() => parseConfig({ size: '1Gi', maxResultSize: '2Gi' }));
  t.is(
    error.message,
    'config key "maxResultSize": 2Gi (2147483648 bytes) is more than the volume each run gets, config key "size": 1Gi ' +
      '(1073741824 bytes); a result that large could never be stored. Expected maxResultSize at most size',
  );
});

test("a namespace's override is named as such", (t) => {
  const error = t.throws(() => parseConfig({ size: '4Gi', maxResultSize: '2Gi', 'namespace.ci.size': '1Gi' }, 'ci'));
  t.regex(error.message, /config key "size \(namespace ci\)": 1Gi/);
});

test('sizes past 2^53 bytes are compared and printed exactly (2Ei is 2305843009213693952 bytes, not a rounded Number)', (t) => {
  const error = t.throws(() => parseConfig({ size: '1Ei', maxResultSize: '2Ei' }));
  t.regex(error.message, /2Ei \(2305843009213693952 bytes\) .* 1Ei \(1152921504606846976 bytes\)/);
  // One byte more than the volume: a Number comparison would round both to 2^60 and let it through.
  const oneMore = t.throws(() => parseConfig({ size: '1Ei', maxResultSize: '1152921504606846977' }));
  t.regex(oneMore.message, /\(1152921504606846977 bytes\) is more than/);
});
