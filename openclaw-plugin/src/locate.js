// Which `bridge` binary the plugin runs, and proof that it is ours.
//
// 1. `bridgePath` in the config, when set (the override).
// 2. Otherwise the binary of this platform's package (`@openclaw-community/rocketchat-<platform>`),
//    an optional dependency of the plugin, resolved from the installed plugin package
//    itself (`createRequire(import.meta.url)`), never from a path relative to a checkout
//    and never from PATH.
//
// Whatever is found is run once as `<binary> --version` and must print
// `openclaw-rocketchat-bridge <semver> protocol <N>` with N === PROTOCOL (contracts.md);
// anything else fails with one sentence that says what was found, where, and what to do.
import { execFile } from "node:child_process";
import { statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** The bridge protocol this plugin speaks (docs/bridge-protocol.md). */
export const PROTOCOL = 2;
export const PRODUCT = "openclaw-rocketchat-bridge";
export const PACKAGE_SCOPE = "@openclaw-community";
const VERSION_RE = /^openclaw-rocketchat-bridge (\S+) protocol (\d+)$/;

/** A bridge that cannot be used; `message` is the one sentence for the operator. */
export class BridgeUnavailableError extends Error {
  /** @param {string} message @param {{ path?: string, found?: string }} [details] */
  constructor(message, details = {}) {
    super(message);
    this.name = "BridgeUnavailableError";
    this.kind = "bridgeUnavailable";
    this.path = details.path;
    this.found = details.found;
  }
}

/**
 * This machine's platform key, as the npm/ packages are named: linux-x64-gnu,
 * linux-x64-musl, linux-arm64-gnu, darwin-arm64, darwin-x64, win32-x64-msvc.
 * @param {{ platform?: string, arch?: string, glibc?: string | null }} [host]
 */
export function platformKey(host = {}) {
  const platform = host.platform ?? process.platform;
  const arch = host.arch ?? process.arch;
  if (platform === "linux") {
    const glibc = host.glibc !== undefined ? host.glibc : detectGlibc();
    return `linux-${arch}-${glibc ? "gnu" : "musl"}`;
  }
  if (platform === "win32") return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

function detectGlibc() {
  try {
    // @ts-ignore - the report header is not in every @types/node version
    return process.report?.getReport?.()?.header?.glibcVersionRuntime ?? null;
  } catch {
    return null;
  }
}

/** The npm package that carries this platform's bridge. */
export function platformPackageName(key = platformKey()) {
  return `${PACKAGE_SCOPE}/rocketchat-${key}`;
}

/** The file name of the binary inside a platform package. */
export function binaryName(platform = process.platform) {
  return platform === "win32" ? "bridge.exe" : "bridge";
}

/**
 * Where the bridge is: `{ path, source }`, or a BridgeUnavailableError.
 * @param {{ bridgePath?: unknown, resolveFrom?: string, packageName?: string }} [opts]
 *   resolveFrom: the module URL/path to resolve the platform package from (default: this file).
 */
export function locateBridge({ bridgePath, resolveFrom = import.meta.url, packageName = platformPackageName() } = {}) {
  if (typeof bridgePath === "string" && bridgePath.trim()) {
    return { path: bridgePath.trim(), source: "channels.rocketchat.bridgePath" };
  }
  let pkgJson;
  try {
    pkgJson = createRequire(resolveFrom).resolve(`${packageName}/package.json`);
  } catch {
    throw new BridgeUnavailableError(
      `rocketchat: no bridge binary for this platform (${platformKey()}): the package ${packageName} is not installed next to the plugin; reinstall the plugin with optional dependencies enabled (npm's --omit=optional or --no-optional skips it), or set channels.rocketchat.bridgePath to a bridge binary.`,
    );
  }
  return { path: join(dirname(pkgJson), "bin", binaryName()), source: packageName };
}

/** Parses a `--version` line; null when it is not ours. */
export function parseVersionLine(text) {
  const line = String(text ?? "").trim().split(/\r?\n/)[0]?.trim() ?? "";
  const m = VERSION_RE.exec(line);
  return m ? { version: m[1], protocol: Number(m[2]) } : null;
}

/** `[stdout, stderr]` of `<binary> --version`, or an error. */
function runVersion(path, timeoutMs) {
  return new Promise((resolve, reject) => {
    execFile(path, ["--version"], { timeout: timeoutMs, maxBuffer: 64 * 1024, windowsHide: true }, (err, stdout, stderr) => {
      if (err && !stdout && !stderr) return reject(err);
      resolve([String(stdout ?? ""), String(stderr ?? "")]);
    });
  });
}

const verified = new Map();

function fileStamp(path) {
  try {
    const s = statSync(path);
    return `${s.size}:${s.mtimeMs}`;
  } catch {
    return undefined;
  }
}

/**
 * Runs `<path> --version` and checks the product line and the protocol.
 * Resolves to `{ path, source, version, protocol }`; rejects with a BridgeUnavailableError.
 * Results are cached per file (size + mtime), so each binary is run once.
 * @param {{ path: string, source: string }} located
 */
export async function verifyBridge(located, { timeoutMs = 5000 } = {}) {
  const { path, source } = located;
  const stamp = fileStamp(path);
  const cached = stamp && verified.get(path);
  if (cached && cached.stamp === stamp) return { ...cached.result, source };
  const where = `${path} (from ${source})`;
  const fix = source === "channels.rocketchat.bridgePath"
    ? "point channels.rocketchat.bridgePath at the bridge that came with this plugin, or remove it to use the plugin's own"
    : `reinstall the plugin so that ${source} matches it, or set channels.rocketchat.bridgePath to a matching bridge`;
  if (!stamp) {
    throw new BridgeUnavailableError(`rocketchat: the bridge binary ${where} does not exist; ${fix}.`, { path });
  }
  let out;
  try {
    out = await runVersion(path, timeoutMs);
  } catch (err) {
    const e = /** @type {any} */ (err);
    const why = e?.code === "EACCES" ? "is not executable"
      : e?.killed ? `did not answer \`--version\` within ${timeoutMs / 1000} s`
        : `could not be run (${e?.code ?? String(e?.message ?? e).split("\n")[0]})`;
    throw new BridgeUnavailableError(`rocketchat: the bridge binary ${where} ${why}; ${fix}.`, { path });
  }
  const parsed = parseVersionLine(out[0]);
  if (!parsed) {
    const found = (out[0] || out[1]).trim().split(/\r?\n/)[0]?.slice(0, 120) ?? "";
    throw new BridgeUnavailableError(
      `rocketchat: ${where} is not the OpenClaw Rocket.Chat bridge (\`--version\` printed ${JSON.stringify(found || "nothing")}, expected "${PRODUCT} <version> protocol ${PROTOCOL}"); ${fix}.`,
      { path, found },
    );
  }
  if (parsed.protocol !== PROTOCOL) {
    throw new BridgeUnavailableError(
      `rocketchat: the bridge ${where} is version ${parsed.version} and speaks protocol ${parsed.protocol}, but this plugin speaks protocol ${PROTOCOL}; ${fix}.`,
      { path, found: `${parsed.version} protocol ${parsed.protocol}` },
    );
  }
  const result = { path, source, version: parsed.version, protocol: parsed.protocol };
  verified.set(path, { stamp, result });
  return result;
}

/** locateBridge + verifyBridge. */
export async function findVerifiedBridge(opts = {}) {
  return verifyBridge(locateBridge(opts));
}
