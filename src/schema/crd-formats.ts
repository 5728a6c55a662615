/**
 * The `format`s of CRD schemas that the validator checks (see `KNOWN_FORMATS`). `int32`/`int64` are range checks
 * (an out-of-range number cannot be decoded into Tekton's Go types); `float`/`double` accept any number; `date-time`,
 * `date` and `byte` check strings. Strings follow kube-openapi's strfmt loosely.
 */
import type { Format } from 'ajv';

const INT32 = 2 ** 31;
const INT64 = 2 ** 63;
const RFC3339_DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export const CRD_FORMATS: Record<string, Format> = {
  // Range only: whether the number is an integer is the `type` keyword's business (one error, not two).
  int32: { type: 'number', validate: (n: number) => n >= -INT32 && n < INT32 },
  int64: { type: 'number', validate: (n: number) => n >= -INT64 && n < INT64 },
  float: { type: 'number', validate: () => true },
  double: { type: 'number', validate: () => true },
  'date-time': RFC3339_DATE_TIME,
  date: DATE,
  byte: BASE64,
};
