'use strict';

const { call } = require('./client');

// An API key of the workspace (Settings → API keys in Deskline), sent as X-API-Key.
const addApiKey = (request, z, bundle) => {
  if (bundle.authData && bundle.authData.api_key) {
    request.headers = request.headers || {};
    request.headers['X-API-Key'] = bundle.authData.api_key;
  }
  return request;
};

const authentication = {
  type: 'custom',
  fields: [
    {
      key: 'base_url',
      label: 'Deskline URL',
      required: true,
      type: 'string',
      helpText: 'The address of your Deskline, e.g. https://desk.example.com',
    },
    { key: 'api_key', label: 'API key', required: true, type: 'password' },
  ],
  test: (z, bundle) => call(z, bundle, 'GET', '/me'),
  connectionLabel: '{{json.workspace_id}}',
};

module.exports = { authentication, addApiKey };
