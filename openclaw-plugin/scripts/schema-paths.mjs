// Every config key of `channels.rocketchat` as a dotted path (`rooms.*.requireMention`,
// `accounts.*.authToken`), read from the JSON schema in openclaw.plugin.json.
// Used by scripts/merge-ui-hints.mjs and the ui-hints test.

/** @param {any} schema @param {string} prefix @param {string[]} out */
function walk(schema, prefix, out) {
  if (!schema || typeof schema !== "object") return;
  for (const variant of [...(schema.anyOf ?? []), ...(schema.oneOf ?? [])]) walk(variant, prefix, out);
  if (schema.properties) {
    for (const [key, sub] of Object.entries(schema.properties)) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (!out.includes(path)) out.push(path);
      walk(sub, path, out);
    }
  }
  if (schema.additionalProperties && typeof schema.additionalProperties === "object") {
    walk(schema.additionalProperties, prefix ? `${prefix}.*` : "*", out);
  }
  if (schema.items && typeof schema.items === "object") walk(schema.items, prefix ? `${prefix}[]` : "[]", out);
}

/** @param {any} schema @returns {string[]} */
export function schemaPaths(schema) {
  const out = [];
  walk(schema, "", out);
  return out;
}

/** The hint key for a path: `accounts.*.X` uses the hint of `X` unless it has its own. */
export function hintFor(hints, path) {
  if (hints[path]) return hints[path];
  const m = /^accounts\.\*\.(.+)$/.exec(path);
  return m ? hints[m[1]] : undefined;
}
