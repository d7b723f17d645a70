// Shared pieces of the end-to-end tests: paths, a fresh run directory, the fake model,
// a real OpenClaw gateway on loopback, the openclaw CLI, polling and a tiny test runner.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync, existsSync, rmSync, createWriteStream } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";

export const E2E = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const REPO = resolve(E2E, "..");
export const PLUGIN_DIR = join(REPO, "openclaw-plugin");
export const NODE = process.execPath;
export const OPENCLAW = process.env.OPENCLAW_MJS ?? join(E2E, ".tools", "oc", "node_modules", "openclaw", "openclaw.mjs");

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll `fn` until it returns a truthy value; throws with `label` after `timeoutMs`. */
export async function waitFor(label, fn, { timeoutMs = 60_000, intervalMs = 300 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}${last ? ` (last error: ${last.message})` : ""}`);
    await sleep(intervalMs);
  }
}

/** A free loopback port (the gateway needs a fixed one in its config). */
export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

export async function getJson(url, opts = {}) {
  const r = await fetch(url, opts);
  const text = await r.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = { raw: text };
  }
  return { status: r.status, body };
}

/** A fresh, isolated run directory: HOME, state, config and logs. */
export class Run {
  constructor(name) {
    this.dir = join(REPO, ".e2e-tmp", `${name}-${Date.now()}-${process.pid}`);
    this.home = join(this.dir, "home");
    this.state = join(this.dir, "state");
    this.configPath = join(this.state, "openclaw.json");
    this.gatewayToken = randomBytes(16).toString("hex");
    this.children = [];
    mkdirSync(this.home, { recursive: true });
    mkdirSync(this.state, { recursive: true });
  }

  env(extra = {}) {
    return {
      ...process.env,
      PATH: `${dirname(NODE)}:${process.env.PATH}`,
      HOME: this.home,
      OPENCLAW_STATE_DIR: this.state,
      OPENCLAW_CONFIG_PATH: this.configPath,
      OPENCLAW_DISABLE_BONJOUR: "1",
      OPENCLAW_NO_RESPAWN: "1",
      OPENCLAW_NO_AUTO_UPDATE: "1",
      OPENCLAW_GATEWAY_TOKEN: this.gatewayToken,
      ...extra,
    };
  }

  /** Start a long-lived child; its output goes to <dir>/<name>.log. */
  spawn(name, cmd, args, { env } = {}) {
    const logPath = join(this.dir, `${name}.log`);
    const log = createWriteStream(logPath);
    const child = spawn(cmd, args, { env: env ?? this.env(), stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    child.logPath = logPath;
    this.children.push(child);
    return child;
  }

  /** Run the openclaw CLI against this run's gateway and state. */
  cli(args, { timeoutMs = 120_000 } = {}) {
    const r = spawnSync(NODE, [OPENCLAW, ...args], { env: this.env(), encoding: "utf8", timeout: timeoutMs });
    return { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  }

  async stop() {
    for (const child of this.children.reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(t);
    }
  }

  cleanup() {
    // Retries: the gateway's helper processes may still be writing state for a moment.
    if (!process.env.E2E_KEEP) rmSync(this.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 300 });
  }
}

/** The fake OpenAI-compatible model (fake-model.mjs). */
export async function startFakeModel(run) {
  const portFile = join(run.dir, "fake-model.port");
  run.spawn("fake-model", NODE, [join(E2E, "fake-model.mjs"), portFile]);
  const port = Number(await waitFor("fake model port", () => existsSync(portFile) && readFileSync(portFile, "utf8")));
  return {
    port,
    calls: async () => (await getJson(`http://127.0.0.1:${port}/calls`)).body,
  };
}

/** The gateway config: loopback, fresh state, the fake model, the plugin from the repo. */
export function gatewayConfig({ run, gatewayPort, modelPort, channel, agents, bindings, extra = {} }) {
  return {
    gateway: { mode: "local", bind: "loopback", port: gatewayPort, auth: { mode: "token" } },
    update: { checkOnStart: false },
    discovery: { mdns: { mode: "off" } },
    logging: { file: join(run.dir, "openclaw.log") },
    plugins: { load: { paths: [PLUGIN_DIR] }, entries: { rocketchat: { enabled: true } } },
    channels: { rocketchat: channel },
    models: {
      mode: "merge",
      providers: {
        fake: {
          baseUrl: `http://127.0.0.1:${modelPort}/v1`,
          apiKey: "fake-local",
          api: "openai-completions",
          models: [{
            id: "echo-model", name: "Echo", reasoning: false, input: ["text"],
            cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 }, contextWindow: 128000, maxTokens: 32000,
          }],
        },
      },
    },
    agents: { ...(agents ?? {}), defaults: { model: { primary: "fake/echo-model" }, ...(agents?.defaults ?? {}) } },
    ...(bindings ? { bindings } : {}),
    ...extra,
  };
}

/** Start `openclaw gateway run` and wait until /readyz answers and `readyLine` is logged. */
export async function startGateway(run, { port, config, env, readyTimeoutMs = 120_000 }) {
  writeFileSync(run.configPath, JSON.stringify(config, null, 2));
  const gw = run.spawn("gateway", NODE, [OPENCLAW, "gateway", "run", "--port", String(port), "--bind", "loopback", "--verbose"], { env: run.env(env) });
  await waitFor("gateway /readyz", async () => {
    if (gw.exitCode !== null) throw new Error(`gateway exited with ${gw.exitCode}; see ${gw.logPath}`);
    const r = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null);
    return r?.status === 200;
  }, { timeoutMs: readyTimeoutMs, intervalMs: 500 });
  return gw;
}

/** Peak resident memory of a process tree (KiB) sampled from /proc; call periodically. */
export function rssTreeKiB(pid) {
  let total = 0;
  const walk = (p) => {
    try {
      const status = readFileSync(`/proc/${p}/status`, "utf8");
      const m = status.match(/VmRSS:\s+(\d+)/);
      if (m) total += Number(m[1]);
      const kids = readFileSync(`/proc/${p}/task/${p}/children`, "utf8").trim();
      for (const k of kids ? kids.split(/\s+/) : []) walk(k);
    } catch {
      // the process is gone
    }
  };
  walk(pid);
  return total;
}

/** Sequential named tests with a `N passed, M failed` summary. */
export class Suite {
  constructor(name) {
    this.name = name;
    this.results = [];
  }

  async test(name, fn) {
    const started = Date.now();
    try {
      await fn();
      this.results.push({ name, ok: true });
      console.log(`  ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    } catch (err) {
      this.results.push({ name, ok: false, err });
      console.log(`  FAIL ${name}: ${err?.stack ?? err}`);
    }
  }

  summary() {
    const passed = this.results.filter((r) => r.ok).length;
    const failed = this.results.length - passed;
    console.log(`${this.name}: ${passed} passed, ${failed} failed`);
    return { passed, failed };
  }
}

export function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

export function assertEq(actual, expected, message) {
  if (actual !== expected) throw new Error(`assertion failed: ${message}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}
