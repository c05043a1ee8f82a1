'use strict';

const { call, compact } = require('./client');

const project = { key: 'project_id', label: 'Project', required: true, dynamic: 'project_list.id.name' };
const item = { key: 'item_id', label: 'Item ID', required: true, helpText: 'From a trigger or a Find Item step.' };
const itemFields = [
  project,
  { key: 'title', label: 'Title', required: true },
  { key: 'description', label: 'Description', type: 'text', required: false },
  { key: 'type_id', label: 'Item type', required: false, dynamic: 'type_list.id.name' },
  { key: 'priority', label: 'Priority', required: false, choices: ['low', 'normal', 'high', 'urgent'] },
  { key: 'requester_email', label: 'Requester e-mail', required: false },
  { key: 'due_date', label: 'Due date', type: 'datetime', required: false },
];

const ITEM_SAMPLE = { id: '01938f0e-0000-7000-8000-000000000001', number: 1001, title: 'Printer on fire' };

const action = (key, noun, label, description, inputFields, path, shape, sample = ITEM_SAMPLE) => ({
  key,
  noun,
  display: { label, description },
  operation: {
    inputFields,
    perform: (z, bundle) => call(z, bundle, 'POST', path, { body: shape(bundle.inputData) }),
    sample,
  },
});

const dateOnly = (value) => (value ? String(value).slice(0, 10) : undefined);
const itemBody = (input) => compact({ ...input, due_date: dateOnly(input.due_date) });

const creates = [
  action('create_ticket', 'Ticket', 'Create Ticket', 'Creates a ticket in a project.', itemFields, '/actions/create-ticket', itemBody),
  action('create_task', 'Task', 'Create Task', 'Creates a task in a project.', itemFields, '/actions/create-task', itemBody),
  action(
    'add_comment',
    'Comment',
    'Add Comment',
    'Adds a public reply or a private note to an item.',
    [item, { key: 'body', label: 'Comment', type: 'text', required: true }, { key: 'visibility', required: false, choices: ['public', 'private'], default: 'public' }],
    '/actions/add-comment',
    (input) => compact(input),
    { id: '01938f0e-0000-7000-8000-0000000000cc', body: 'On it!', visibility: 'public' },
  ),
  action(
    'update_item',
    'Item',
    'Update Item',
    'Changes the status or fields of an item.',
    [item, { key: 'status_id', label: 'Status', required: false }, { key: 'title', required: false }, { key: 'priority', required: false, choices: ['low', 'normal', 'high', 'urgent'] }],
    '/actions/update-item',
    (input) => compact(input),
  ),
  action(
    'assign_item',
    'Item',
    'Assign Item',
    'Adds someone to the assignees of an item.',
    [item, { key: 'user_ids', label: 'Assignees', required: true, list: true, dynamic: 'user_list.id.name' }],
    '/actions/assign',
    (input) => ({ item_id: input.item_id, user_ids: [].concat(input.user_ids || []) }),
  ),
  action(
    'log_time',
    'Time Entry',
    'Log Time',
    'Logs minutes of work on an item.',
    [item, { key: 'minutes', type: 'integer', required: true }, { key: 'note', required: false }, { key: 'worked_on', type: 'datetime', required: false }],
    '/actions/log-time',
    (input) => compact({ ...input, minutes: Number(input.minutes), worked_on: dateOnly(input.worked_on) }),
    { id: '01938f0e-0000-7000-8000-0000000000dd', minutes: 45 },
  ),
  action(
    'create_client',
    'Client',
    'Create Client',
    'Invites a client (and creates their organisation when named).',
    [{ key: 'email', required: true }, { key: 'display_name', label: 'Name', required: true }, { key: 'organisation_name', required: false }],
    '/actions/create-client',
    (input) => compact(input),
    { id: '01938f0e-0000-7000-8000-0000000000ee', email: 'gloria@globex.example', kind: 'client' },
  ),
];

module.exports = Object.fromEntries(creates.map((c) => [c.key, c]));
