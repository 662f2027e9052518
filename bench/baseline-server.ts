/** Scenario A's baseline: a bare Fastify route that parses the same JSON and answers the envelope. */
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.post('/api/v1.1/campaigns/triggers/start', async (req) => {
  const body = req.body as { id?: unknown };
  return { data: null, error: body.id ? 0 : 400, error_text: 'Successful operation' };
});
const url = await app.listen({ port: 0, host: '127.0.0.1' });
console.log(`listening on ${url}`);
