/**
 * TLR_REFS as the rewrite declares it: `<task>/<result>=<what the task published>` each. A reference must name its
 * own result's file; a published value holding more than one reference, or anything else, is refused.
 */
import test from 'ava';
import { parseRefsText } from '../../init/refs-text.js';
import { formatReference } from '../../src/core/reference.js';
import { notProducedNotice } from '../../init/seal-notice.js';
import { referenceFor } from './temp-volume.js';

const RUN = 'run-uid';
const mine = referenceFor(`${RUN}/build/report`, 'value');
const other = referenceFor(`${RUN}/scan/findings`, 'other value');

test('labelled references naming their own files are read', (t) => {
  const refs = parseRefsText(`build/report=${mine} scan/findings=${other}`, RUN);
  t.deepEqual(refs.map((r) => r.token), [mine, other]);
});

test("a reference another task's result published as its own (a hand-made alias) is refused, naming both", (t) => {
  const error = t.throws(() => parseRefsText(`build/report=${other}`, RUN));
  t.regex(error.message, /result "report" of task "build" is a reference to run-uid\/scan\/findings, expected its own file run-uid\/build\/report/);
});

test('a published value carrying an extra reference (labelled or not) is refused', (t) => {
  t.throws(() => parseRefsText(`build/report=${mine} ${other}`, RUN), { message: /is not labelled with the result it came from/ });
  t.throws(() => parseRefsText(`build/report=x/y=${mine}`, RUN), { message: /must be references/ });
  t.throws(() => parseRefsText(`build/report= ${mine}`, RUN), { message: /must be references/ });
});

test("a result its seal step did not seal: the message says so, with the producer's notice", (t) => {
  const error = t.throws(() => parseRefsText(`build/report=${notProducedNotice('report')}`, RUN));
  t.regex(error.message, /result "report" was not produced/);
  t.regex(error.message, /tlr-seal step did not seal that result/);
});

test("the previous release's text (references only) is still read", (t) => {
  t.deepEqual(parseRefsText(`${mine} ${other}`, RUN).length, 2);
});

test('with the declared labels, the refs text must be exactly those items in order: a spliced-in reference is refused', (t) => {
  const a = formatReference({ sha256: 'a'.repeat(64), size: 1, path: 'run/gen/r' });
  const b = formatReference({ sha256: 'b'.repeat(64), size: 1, path: 'run/victim/s' });
  t.is(parseRefsText(`gen/r=${a}`, 'run', 'gen/r').length, 1);
  for (const spliced of [`gen/r=${a} victim/s=${b}`, `gen/r=${a}\u000bvictim/s=${b}`, `gen/r=${a}\fvictim/s=${b}`]) {
    t.throws(() => parseRefsText(spliced, 'run', 'gen/r'), { message: /a producing task published more than its own reference|expected 1 item/ });
  }
  t.throws(() => parseRefsText(`victim/s=${b}`, 'run', 'gen/r'), { message: /expected 1 item\(s\), gen\/r=<its reference>, found "victim\/s=/ });
});
