'use strict';

// Deskline for Zapier. It uses only the integrations gateway's endpoints (/api/integrations/v1).
const zapier = require('zapier-platform-core');

const { version } = require('./package.json');
const { authentication, addApiKey } = require('./lib/authentication');
const triggers = require('./lib/triggers');
const creates = require('./lib/creates');
const searches = require('./lib/searches');

module.exports = {
  version,
  platformVersion: zapier.version,
  authentication,
  beforeRequest: [addApiKey],
  triggers,
  creates,
  searches,
};
