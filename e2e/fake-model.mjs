// A fake OpenAI-compatible model server for the end-to-end test.
// - POST /v1/chat/completions: answers `PONG: <last user text>` (SSE when stream),
//   or a long reply when the text contains LONGREPLY (12,000 characters).
//   When the text contains STREAMME, the streamed answer comes in several deltas
//   (a few words each) with STREAM_PAUSE_MS between them, for the preview scenarios.
// - GET /v1/models: one model.
// - GET /calls: every chat call so far ({n, text, prompt}) for assertions.
// Usage: node fake-model.mjs <portFile>   (listens on 127.0.0.1:0, writes its port)
import { createServer } from "node:http";
import { writeFileSync } from "node:fs";

const calls = [];

/** The numbered, recognisable 12,000-character reply used by the chunking scenario. */
export function longReply() {
  let out = "";
  for (let i = 0; out.length < 12000; i++) out += `[${String(i).padStart(4, "0")}] lorem ipsum dolor sit amet. `;
  return out.slice(0, 12000);
}

function contentText(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => (typeof p === "string" ? p : p?.text ?? "")).join("");
  return "";
}

/** The user's words: the last user message that is not OpenClaw's internal context block. */
function userText(messages) {
  const users = (messages ?? []).filter((m) => m.role === "user").map((m) => contentText(m.content));
  const real = users.filter((t) => !t.includes("BEGIN_OPENCLAW_INTERNAL_CONTEXT"));
  const last = real[real.length - 1] ?? users[users.length - 1] ?? "";
  const fence = last.lastIndexOf("```\n\n");
  return (fence >= 0 ? last.slice(fence + 5) : last).trim();
}

const STREAM_PAUSE_MS = Number(process.env.FAKE_MODEL_STREAM_PAUSE_MS ?? 400);

/** `text` in pieces of a few words (the whole text when joined). */
export function streamPieces(text, words = 3) {
  const parts = text.split(/(?<= )/);
  const out = [];
  for (let i = 0; i < parts.length; i += words) out.push(parts.slice(i, i + words).join(""));
  return out;
}

function reply(res, body, text, { pieces } = {}) {
  const id = `chatcmpl-${calls.length}`;
  const base = { id, object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model: body.model ?? "echo-model" };
  if (!body.stream) {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({
      id, object: "chat.completion", created: base.created, model: base.model,
      choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
      usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
    }));
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  const send = (o) => res.write(`data: ${JSON.stringify(o)}\n\n`);
  send({ ...base, choices: [{ index: 0, delta: { role: "assistant" }, finish_reason: null }] });
  const finish = () => {
    send({ ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] });
    send({ ...base, choices: [], usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 } });
    res.write("data: [DONE]\n\n");
    res.end();
  };
  const queue = pieces ?? [text];
  const next = () => {
    const piece = queue.shift();
    if (piece === undefined) return finish();
    send({ ...base, choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] });
    if (queue.length === 0) return finish();
    setTimeout(next, STREAM_PAUSE_MS);
  };
  next();
}

const held = new Set();
const server = createServer((req, res) => {
  let raw = "";
  req.on("data", (c) => { raw += c; });
  req.on("end", () => {
    if (req.method === "GET" && req.url.startsWith("/v1/models")) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ object: "list", data: [{ id: "echo-model", object: "model", owned_by: "e2e" }] }));
      return;
    }
    if (req.method === "GET" && req.url === "/calls") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(calls));
      return;
    }
    if (req.method === "POST" && req.url.startsWith("/v1/chat/completions")) {
      let body;
      try {
        body = JSON.parse(raw);
      } catch {
        res.writeHead(400).end();
        return;
      }
      const text = userText(body.messages);
      const prompt = (body.messages ?? []).map((m) => contentText(m.content)).join("\n");
      calls.push({ n: calls.length + 1, text, prompt });
      // HOLDME <word>: the first call with it is held open and never answered (the test
      // kills the gateway meanwhile); later calls are answered as usual. Keyed by the
      // marker, not the whole text: OpenClaw's restart recovery re-runs the interrupted
      // turn with a prompt of its own around the same message.
      const hold = /HOLDME \S+/.exec(text)?.[0];
      if (hold && !held.has(hold)) {
        held.add(hold);
        return;
      }
      if (text.includes("STREAMME")) {
        const answer = `PONG: ${text} and the rest of a streamed answer, written a few words at a time.`;
        reply(res, body, answer, { pieces: streamPieces(answer) });
        return;
      }
      reply(res, body, text.includes("LONGREPLY") ? longReply() : `PONG: ${text}`);
      return;
    }
    res.writeHead(404).end();
  });
});

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address();
  if (process.argv[2]) writeFileSync(process.argv[2], String(port));
  process.stderr.write(`fake model on 127.0.0.1:${port}\n`);
});
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => server.close(() => process.exit(0)));
