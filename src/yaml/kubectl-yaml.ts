/**
 * YAML the way `kubectl` reads it. kubectl (sigs.k8s.io/yaml on go-yaml v2) resolves plain scalars by YAML 1.1 rules:
 * `yes`/`no`/`on`/`off`/`y`/`n` are booleans and `0755` is octal (493). It keeps timestamps as strings and has no
 * sexagesimal numbers (`1:30` is a string). Parsing the same way means we see what the cluster will store, and
 * stringifying the same way quotes every string that kubectl would otherwise read as something else (`"yes"`).
 */
import type { DocumentOptions, ParseOptions, SchemaOptions, Tags, ToStringOptions } from 'yaml';

/** YAML 1.1 tags that go-yaml v2 does not resolve into non-strings when decoding into interface{}. */
const STRING_IN_KUBECTL = new Set(['timestamp', 'intTime', 'floatTime', 'tag:yaml.org,2002:timestamp']);

function kubectlTags(tags: Tags): Tags {
  return tags.filter((tag) => {
    if (typeof tag === 'string') {
      return !STRING_IN_KUBECTL.has(tag);
    }
    // intTime / floatTime (sexagesimal, `1:30`) share the int/float tag names but carry a `format` of TIME.
    const format = 'format' in tag ? tag.format : undefined;
    return !STRING_IN_KUBECTL.has(tag.tag) && format !== 'TIME';
  });
}

export const KUBECTL_SCHEMA: SchemaOptions & DocumentOptions = {
  version: '1.1',
  customTags: kubectlTags,
  merge: true,
};

export const KUBECTL_PARSE: ParseOptions & DocumentOptions & SchemaOptions = {
  ...KUBECTL_SCHEMA,
  uniqueKeys: true,
  prettyErrors: false,
};

export const KUBECTL_STRINGIFY: DocumentOptions & SchemaOptions & ToStringOptions = {
  ...KUBECTL_SCHEMA,
  lineWidth: 0,
  minContentWidth: 0,
};
