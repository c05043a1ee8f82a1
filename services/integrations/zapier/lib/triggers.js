'use strict';

const { call, compact } = require('./client');

// Every trigger is a REST hook with a polling fallback that also serves as sample data:
// the hook delivers {type, timestamp, data} and `data` is exactly a polling list's entry.
const HOOKS = [
  ['item_created', 'Item', 'New Item', 'Triggers when a ticket or task is created.'],
  ['item_updated', 'Item', 'Updated Item', 'Triggers when fields of an item change.'],
  ['status_changed', 'Item', 'Status Changed', 'Triggers when an item moves to another status.'],
  ['comment_added', 'Comment', 'New Public Reply', 'Triggers on a public reply (never a private note).'],
  ['comment_added_staff', 'Comment', 'New Comment or Note', 'Triggers on every comment, private notes included (staff).'],
  ['item_assigned', 'Item', 'Item Assigned', 'Triggers when the assignees of an item change.'],
  ['time_logged', 'Time Entry', 'Time Logged', 'Triggers when time is logged on an item.'],
  ['sla_breached', 'Item', 'SLA Breached', 'Triggers when a response or resolution promise is missed.'],
  ['client_created', 'Client', 'New Client', 'Triggers when a client joins the workspace.'],
];

const ITEM_SAMPLE = {
  id: '01938f0e-0000-7000-8000-000000000001',
  item_id: '01938f0e-0000-7000-8000-000000000001',
  number: 1001,
  title: 'Printer on fire',
  project_id: '01938f0e-0000-7000-8000-0000000000aa',
  type_id: '01938f0e-0000-7000-8000-0000000000bb',
  kind: 'ticket',
  status_name: 'New',
  status_category: 'new',
  priority: 'high',
};

const filters = [
  { key: 'project_id', label: 'Project', dynamic: 'project_list.id.name', required: false },
  { key: 'type_id', label: 'Item type', dynamic: 'type_list.id.name', required: false },
];

const hookTrigger = ([key, noun, label, description]) => ({
  key,
  noun,
  display: { label, description },
  operation: {
    type: 'hook',
    inputFields: filters,
    performSubscribe: (z, bundle) =>
      call(z, bundle, 'POST', '/hooks', {
        body: { target_url: bundle.targetUrl, event: key, filters: compact(bundle.inputData) },
      }),
    performUnsubscribe: (z, bundle) =>
      call(z, bundle, 'DELETE', `/hooks/${bundle.subscribeData.id}`),
    perform: (z, bundle) => [bundle.cleanedRequest.data],
    performList: (z, bundle) =>
      call(z, bundle, 'GET', `/triggers/${key}`, { params: compact(bundle.inputData) }),
    sample: ITEM_SAMPLE,
  },
});

// Hidden polling triggers feed the dropdowns of the other steps.
const listTrigger = (key, noun, path, needsType = false) => ({
  key,
  noun,
  display: { label: `List of ${noun}s`, description: `The ${noun.toLowerCase()}s to pick from.`, hidden: true },
  operation: {
    type: 'polling',
    inputFields: needsType ? [{ key: 'type_id', required: true }] : [],
    perform: (z, bundle) =>
      call(z, bundle, 'GET', path, { params: needsType ? { type_id: bundle.inputData.type_id } : {} }),
    sample: { id: '01938f0e-0000-7000-8000-0000000000aa', name: 'Support' },
  },
});

const triggers = [
  ...HOOKS.map(hookTrigger),
  listTrigger('project_list', 'Project', '/lists/projects'),
  listTrigger('type_list', 'Item Type', '/lists/types'),
  listTrigger('status_list', 'Status', '/lists/statuses', true),
  listTrigger('user_list', 'User', '/lists/users'),
  listTrigger('field_list', 'Custom Field', '/lists/fields', true),
];

module.exports = Object.fromEntries(triggers.map((t) => [t.key, t]));
