'use strict';

// Every call goes to the Deskline integrations gateway, versioned under /v1.
const gateway = (bundle, path) =>
  `${String(bundle.authData.base_url).replace(/\/+$/, '')}/api/integrations/v1${path}`;

const call = async (z, bundle, method, path, { params, body } = {}) => {
  const response = await z.request({ method, url: gateway(bundle, path), params, body });
  return response.data;
};

// Only the filters a user actually set (Zapier sends empty strings for the others).
const compact = (values) =>
  Object.fromEntries(
    Object.entries(values || {}).filter(([, v]) => v !== undefined && v !== null && v !== ''),
  );

module.exports = { call, compact, gateway };
