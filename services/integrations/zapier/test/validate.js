'use strict';

// The app definition against Zapier's own schema (functions serialised the way the platform
// does before validating). Exits non-zero naming every error.
const { validateAppDefinition } = require('zapier-platform-schema');
const { compileApp } = require('zapier-platform-core/src/tools/schema');
const { recurseCleanFuncs } = require('zapier-platform-core/src/tools/cleaner');
const App = require('..');

const results = validateAppDefinition(recurseCleanFuncs(compileApp(App)));
if (results.errors.length) {
  for (const error of results.errors) {
    console.error(`${error.property}: ${error.message}`);
  }
  process.exit(1);
}
const count = (group) => Object.keys(App[group]).length;
console.log(
  JSON.stringify({
    valid: true,
    triggers: count('triggers'),
    creates: count('creates'),
    searches: count('searches'),
  }),
);
