'use strict';

const { call, compact } = require('./client');

const search = (key, noun, label, description, inputFields, path, sample) => ({
  key,
  noun,
  display: { label, description },
  operation: {
    inputFields,
    perform: (z, bundle) => call(z, bundle, 'GET', path, { params: compact(bundle.inputData) }),
    sample,
  },
});

const searches = [
  search(
    'find_item',
    'Item',
    'Find Item',
    'Finds items by number, title, requester e-mail or a custom field.',
    [
      { key: 'number', type: 'integer', required: false },
      { key: 'title', required: false },
      { key: 'requester_email', required: false },
      { key: 'field_key', label: 'Custom field', required: false },
      { key: 'field_value', required: false },
    ],
    '/search/items',
    { id: '01938f0e-0000-7000-8000-000000000001', number: 1001, title: 'Printer on fire' },
  ),
  search('find_user', 'User', 'Find User', 'Finds a person of the workspace by e-mail.', [{ key: 'email', required: true }], '/search/users', { id: '01938f0e-0000-7000-8000-0000000000ab', email: 'ann@acme.example' }),
  search('find_client', 'Client', 'Find Client', 'Finds a client by e-mail.', [{ key: 'email', required: true }], '/search/clients', { id: '01938f0e-0000-7000-8000-0000000000ee', email: 'gloria@globex.example' }),
  search('find_project', 'Project', 'Find Project', 'Finds a project by name.', [{ key: 'name', required: true }], '/search/projects', { id: '01938f0e-0000-7000-8000-0000000000aa', name: 'Support' }),
];

module.exports = Object.fromEntries(searches.map((s) => [s.key, s]));
