// Kombo's npm SDK (@kombo-api/sdk) driving an lmsync server: run by tests/api/test_kombo_npm_sdk.py.
//
// usage: node drive.mjs BASE_URL API_KEY INTEGRATION_ID [DOOMED_INTEGRATION_ID]
//        (or LMSYNC_URL, LMSYNC_API_KEY, LMSYNC_INTEGRATION_ID, LMSYNC_DOOMED_INTEGRATION_ID)
// DOOMED_INTEGRATION_ID, if given, is deleted with the SDK (then read back: a 404).
//
// Every call goes through the SDK's own client, so the SDK's zod schemas check each answer; a
// ResponseValidationError (or any other unexpected failure) is recorded under "failures" and the
// script exits 1. The SDK has no LMS namespace (no users, courses, progressions, no LMS write
// actions), so the LMS read endpoints are fetched with the SDK's exported HTTPClient and their
// raw pages are printed for the Python side to validate against lmsync's served OpenAPI.
// Prints one JSON document on stdout.

import { readFileSync } from "node:fs";
import { HTTPClient, Kombo } from "@kombo-api/sdk";
import * as errors from "@kombo-api/sdk/models/errors";

const [baseUrl, apiKey, integrationId, doomedId] = [
  process.argv[2] ?? process.env.LMSYNC_URL,
  process.argv[3] ?? process.env.LMSYNC_API_KEY,
  process.argv[4] ?? process.env.LMSYNC_INTEGRATION_ID,
  process.argv[5] ?? process.env.LMSYNC_DOOMED_INTEGRATION_ID,
];
if (!baseUrl || !apiKey || !integrationId) {
  console.error("usage: node drive.mjs BASE_URL API_KEY INTEGRATION_ID");
  process.exit(2);
}

const sdkPackage = JSON.parse(readFileSync(new URL("./node_modules/@kombo-api/sdk/package.json", import.meta.url)));
const serverUrl = `${baseUrl.replace(/\/$/, "")}/v1`;
const kombo = new Kombo({ api_key: apiKey, server_url: serverUrl, integration_id: integrationId });
const out = { sdk: { name: sdkPackage.name, version: sdkPackage.version }, failures: [] };

/** The SDK's answer as plain JSON (its Date objects become ISO strings). */
const plain = (value) => JSON.parse(JSON.stringify(value));

/** Describe an error thrown by the SDK: its class, HTTP status and the error envelope. */
function describeError(err) {
  return {
    class: err?.constructor?.name,
    name: err?.name,
    is_kombo_error: err instanceof errors.KomboError,
    is_general_error: err instanceof errors.KomboGeneralError,
    is_validation_error: err instanceof errors.ResponseValidationError,
    status_code: err?.statusCode ?? null,
    status: err?.status ?? null,
    code: err?.error?.code ?? null,
    message: String(err?.message ?? err),
    pretty: typeof err?.pretty === "function" ? err.pretty() : null,
  };
}

/** Run one step; an exception is a failure of the run (recorded, exit 1). */
async function step(name, fn) {
  try {
    out[name] = await fn();
  } catch (err) {
    out.failures.push({ step: name, ...describeError(err) });
  }
}

/** Run a call that must fail: what the SDK threw (or a failure when it did not). */
async function expectError(name, fn) {
  try {
    const answer = await fn();
    out.failures.push({ step: name, message: "expected an error", answer: plain(answer) });
  } catch (err) {
    out.errors ??= {};
    out.errors[name] = describeError(err);
  }
}

/** Every page of an SDK paginated call (it follows data.next as the cursor). */
async function allPages(first) {
  const pages = [];
  for await (const page of first) pages.push(plain(page.result));
  return pages;
}

const http = new HTTPClient();

/** Every page of an LMS list endpoint, following data.next as the cursor, through the SDK's HTTPClient. */
async function lmsPages(path, pageSize) {
  const pages = [];
  let cursor = null;
  do {
    const url = new URL(`${serverUrl}${path}`);
    url.searchParams.set("page_size", String(pageSize));
    if (cursor) url.searchParams.set("cursor", cursor);
    const resp = await http.request(new Request(url, {
      headers: { Authorization: `Bearer ${apiKey}`, "X-Integration-Id": integrationId, Accept: "application/json" },
    }));
    if (resp.status !== 200) throw new Error(`${path}: HTTP ${resp.status}: ${await resp.text()}`);
    const body = await resp.json();
    pages.push(body);
    cursor = body.data.next;
    if (pages.length > 100) throw new Error(`${path}: more than 100 pages`);
  } while (cursor);
  return pages;
}

await step("check_api_key", async () => plain(await kombo.general.checkApiKey()));
await step("integration", async () => plain(await kombo.general.getIntegrationDetails({ integration_id: integrationId })));
await step("tools", async () => plain(await kombo.general.getTools({ category: "lms" })));

await step("integration_fields", async () => {
  const pages = await allPages(await kombo.general.getIntegrationFields({ integration_id: integrationId, page_size: 5 }));
  return { pages: pages.length, first_next: pages[0].data.next, results: pages.flatMap((p) => p.data.results) };
});

const shirtField = out.integration_fields?.results.find((f) => f.model === "lms_users" && f.type === "CUSTOM" && f.key === "tshirt");
await step("update_integration_field", async () => {
  if (!shirtField) throw new Error("no lms_users CUSTOM tshirt integration field listed");
  return plain(await kombo.general.updateIntegrationField({
    integration_id: integrationId, integration_field_id: shirtField.id, body: { enable_passthrough: true },
  }));
});

await step("custom_fields", async () => {
  const pages = await allPages(await kombo.general.getCustomFields({ integration_id: integrationId, page_size: 2 }));
  return { pages: pages.length, first_next: pages[0].data.next, results: pages.flatMap((p) => p.data.results) };
});

const shirtSize = out.custom_fields?.results.find((c) => c.key === "shirt_size");
await step("update_custom_field_mapping", async () => {
  if (!shirtSize || !shirtField) throw new Error("no shirt_size custom field or tshirt integration field");
  return plain(await kombo.general.updateCustomFieldMapping({
    integration_id: integrationId, custom_field_id: shirtSize.id, body: { integration_field_id: shirtField.id },
  }));
});

await step("custom_fields_after", async () =>
  plain(await kombo.general.getCustomFields({ integration_id: integrationId, page_size: 250 })).result.data.results);

await step("lms", async () => ({
  users: await lmsPages("/lms/users", 3),
  courses: await lmsPages("/lms/courses", 2),
  course_progressions: await lmsPages("/lms/course-progressions", 4),
}));

await step("trigger_sync", async () => plain(await kombo.general.triggerSync({ type: "FULL" })));
await step("connection_link", async () => plain(await kombo.connect.createConnectionLink({
  end_user_email: "npm-sdk@school.example", end_user_organization_name: "npm SDK School",
  integration_category: "LMS", integration_tool: "moodle",
})));

await step("set_integration_enabled", async () => plain(await kombo.general.setIntegrationEnabled({
  integration_id: integrationId, body: { value: true },
})));
await step("reconnection_link", async () => plain(await kombo.general.createReconnectionLink({
  integration_id: integrationId, body: { link_type: "EMBEDDED", language: "en" },
})));
if (doomedId) {
  await step("delete_integration", async () => plain(await kombo.general.deleteIntegration({ integration_id: doomedId, body: {} })));
  await expectError("deleted_integration", () => kombo.general.getIntegrationDetails({ integration_id: doomedId }));
}

await expectError("passthrough", () => kombo.general.sendPassthroughRequest({
  tool: "moodle", api: "rest", body: { method: "GET", path: "/webservice/rest/server.php" },
}));
await expectError("unknown_integration", () => kombo.general.getIntegrationDetails({ integration_id: "moodle:nosuchintegration" }));
await expectError("unknown_integration_fields", () => kombo.general.getIntegrationFields({ integration_id: "moodle:nosuchintegration" }));
await expectError("bad_api_key", () => new Kombo({ api_key: "lms_not-a-key", server_url: serverUrl }).general.checkApiKey());

process.exitCode = out.failures.length ? 1 : 0;  // not process.exit(): it would cut a piped stdout short
process.stdout.write(JSON.stringify(out) + "\n");
