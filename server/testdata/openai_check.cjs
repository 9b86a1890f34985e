// Drives a Llamadesk server with the official OpenAI client library (npm
// "openai") and prints what it saw as JSON. Run by TestOfficialOpenAIClient:
//   NODE_PATH=<dir>/node_modules node openai_check.cjs <base URL> <API key> <model>
const OpenAI = require("openai");

async function main() {
  const [baseURL, apiKey, model] = process.argv.slice(2);
  const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
  const out = { version: require("openai/version").VERSION };
  const messages = [
    { role: "system", content: "You are a poet." },
    { role: "user", content: "Tell me of the zephyr" },
  ];

  const list = await client.models.list();
  out.models = list.data.map((m) => m.id);

  const done = await client.chat.completions.create({ model, messages, temperature: 0, max_tokens: 12, seed: 1 });
  out.chat = { content: done.choices[0].message.content, finish: done.choices[0].finish_reason, usage: done.usage };

  const stream = await client.chat.completions.create({
    model, messages, temperature: 0, max_tokens: 12, stream: true, stream_options: { include_usage: true },
  });
  let text = "";
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      if (c.delta && c.delta.content) text += c.delta.content;
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  out.stream = { content: text, finish, usage };

  const comp = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 5, temperature: 0 });
  out.completion = { text: comp.choices[0].text, usage: comp.usage };

  try {
    await client.chat.completions.create({ model: "no-such-model", messages });
    out.notFound = "no error";
  } catch (e) {
    out.notFound = { status: e.status, code: e.code, type: e.type, name: e.constructor.name };
  }
  try {
    await client.chat.completions.create({ model, messages, temperature: 7 });
    out.badRequest = "no error";
  } catch (e) {
    out.badRequest = { status: e.status, param: e.param, name: e.constructor.name, message: e.message };
  }
  try {
    await new OpenAI({ baseURL, apiKey: "wrong", maxRetries: 0 }).models.list();
    out.badKey = "no error";
  } catch (e) {
    out.badKey = { status: e.status, name: e.constructor.name };
  }

  // Abort a long stream after its first chunk.
  const long = await client.chat.completions.create({ model, messages, temperature: 0, max_tokens: 400, stream: true });
  let chunks = 0;
  for await (const chunk of long) {
    chunks++;
    if (chunks === 2) {
      long.controller.abort();
      break;
    }
  }
  out.aborted = { chunks };

  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + "\n");
  process.exit(1);
});
