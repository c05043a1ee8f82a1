'use strict';

// Runs the app's triggers, actions and searches with zapier-platform-core's app tester
// against a running Deskline (DESKLINE_URL, DESKLINE_API_KEY), subscribing its REST hooks to
// HOOK_TARGET_URL. Prints one JSON document of what each step returned; any failure exits
// non-zero with the error.
const zapier = require('zapier-platform-core');
const App = require('..');

const appTester = zapier.createAppTester(App);
const authData = { base_url: process.env.DESKLINE_URL, api_key: process.env.DESKLINE_API_KEY };
// `method`: the function itself, or its path in the app ('creates.log_time.operation.perform').
const resolve = (method) =>
  typeof method === 'string' ? method.split('.').reduce((node, key) => node[key], App) : method;
const run = (method, inputData = {}, extra = {}) =>
  appTester(resolve(method), { authData, inputData, ...extra });
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const until = async (what, attempt) => {
  for (let tries = 0; tries < 100; tries += 1) {
    try {
      const result = await attempt();
      if (result !== undefined) return result;
    } catch (error) {
      if (tries === 99) throw error;
    }
    await pause(200);
  }
  throw new Error(`gave up waiting for ${what}`);
};

const main = async () => {
  const out = {};
  out.me = await run(App.authentication.test);
  const projects = await until('projects', async () => {
    const found = await run('triggers.project_list.operation.perform');
    return found.length ? found : undefined;
  });
  const project = projects[0];
  const types = await run('triggers.type_list.operation.perform');
  const ticketType = types.find((t) => t.name === 'Ticket');
  const statuses = await run('triggers.status_list.operation.perform', { type_id: ticketType.id });
  out.lists = { projects, types, statuses };
  out.users = await run('triggers.user_list.operation.perform');

  const subscribeData = await run(
    'triggers.item_created.operation.performSubscribe',
    { project_id: project.id },
    { targetUrl: process.env.HOOK_TARGET_URL },
  );
  out.subscribed = subscribeData;

  const ticket = await run('creates.create_ticket.operation.perform', {
    project_id: project.id,
    title: 'Zap: printer on fire',
    priority: 'high',
    due_date: '2026-12-24T09:00:00Z',
  });
  out.ticket = ticket;
  out.task = await run('creates.create_task.operation.perform', { project_id: project.id, title: 'Zap: order toner' });
  out.comment = await run('creates.add_comment.operation.perform', { item_id: ticket.id, body: 'Extinguisher on its way', visibility: 'public' });
  const open = statuses.find((s) => s.name === 'Open');
  out.updated = await run('creates.update_item.operation.perform', { item_id: ticket.id, status_id: open.id });
  out.assigned = await run('creates.assign_item.operation.perform', { item_id: ticket.id, user_ids: [out.users[0].id] });
  // The key logs time as the person who made it; time tracking learns of the new ticket from
  // its event a moment after it was created (until then it answers 404).
  out.time = await until('the ticket in time tracking', () =>
    run('creates.log_time.operation.perform', { item_id: ticket.id, minutes: '30', note: 'Zap' }),
  );
  out.client = await run('creates.create_client.operation.perform', {
    email: `zap-${Date.now()}@globex.example`,
    display_name: 'Gloria',
    organisation_name: 'Globex',
  });

  out.found_item = await run('searches.find_item.operation.perform', { number: ticket.number });
  out.found_project = await run('searches.find_project.operation.perform', { name: project.name });
  out.found_client = await run('searches.find_client.operation.perform', { email: out.client.email });

  // Polling lists (also the sample data), then the hook's own parsing of a delivered body.
  out.polled = {};
  const expect = { item_created: 2, comment_added: 1, status_changed: 1, item_assigned: 1, client_created: 1 };
  for (const [key, n] of Object.entries(expect)) {
    out.polled[key] = await until(`${key} in the polling list`, async () => {
      const found = await run(`triggers.${key}.operation.performList`);
      return found.length >= n ? found : undefined;
    });
  }
  out.parsed = await run('triggers.item_created.operation.perform', {}, {
    cleanedRequest: { type: 'item_created', timestamp: new Date().toISOString(), data: out.polled.item_created[0] },
  });

  await run('triggers.item_created.operation.performUnsubscribe', {}, { subscribeData });
  out.unsubscribed = true;
  console.log(JSON.stringify(out));
};

main().catch((error) => {
  console.error(error && error.stack ? error.stack : error);
  process.exit(1);
});
