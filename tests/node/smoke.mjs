// Smoke test: the official Tencent Cloud Node.js SDK (tencentcloud-sdk-nodejs, pinned in
// package.json) against a running ferrokms, unchanged.
//
// Environment:
//   FERROKMS_ENDPOINT           host:port of the server (required), e.g. 127.0.0.1:8300
//   FERROKMS_ACCESS_KEY_ID      SecretId (required)
//   FERROKMS_ACCESS_KEY_SECRET  SecretKey (required)
//   FERROKMS_REGION             region (default ap-guangzhou)
//
// Exits 0 when every check passed, 1 on the first mismatch or SDK error, 2 on bad usage.
// Prints one line per check ("ok ..." / "FAIL ...") so the pytest wrapper can show them.
//
// How this SDK signs (tencentcloud/common/sign.js, http/http_connection.js, abstract_client.js):
// it sends `Host: 127.0.0.1:PORT` but signs `host:127.0.0.1` (URL.hostname, no port), signs
// `content-type:application/json`, and puts `127` (endpoint.split(".")[0]) in the credential
// scope as the service. The server must accept all three for these calls to succeed.

import { Buffer } from "node:buffer";
import crypto from "node:crypto";
import tencentcloud from "tencentcloud-sdk-nodejs";

const KmsClient = tencentcloud.kms.v20190118.Client;

const endpoint = process.env.FERROKMS_ENDPOINT;
const secretId = process.env.FERROKMS_ACCESS_KEY_ID;
const secretKey = process.env.FERROKMS_ACCESS_KEY_SECRET;
const region = process.env.FERROKMS_REGION || "ap-guangzhou";

if (!endpoint || !secretId || !secretKey) {
  console.error("usage: FERROKMS_ENDPOINT=host:port FERROKMS_ACCESS_KEY_ID=... FERROKMS_ACCESS_KEY_SECRET=... node smoke.mjs");
  process.exit(2);
}

// The SDK's fetch wrapper routes every request through $http_proxy when it is set.
delete process.env.http_proxy;
delete process.env.HTTP_PROXY;

function client(key = secretKey) {
  return new KmsClient({
    credential: { secretId, secretKey: key },
    region,
    profile: {
      httpProfile: { protocol: "http://", endpoint, reqMethod: "POST", reqTimeout: 30 },
      language: "en-US",
    },
  });
}

let failures = 0;
function check(cond, what, detail = "") {
  if (cond) {
    console.log(`ok   ${what}`);
  } else {
    failures += 1;
    console.log(`FAIL ${what}${detail ? ": " + detail : ""}`);
  }
  return cond;
}

async function expectError(promise, code, what) {
  try {
    const res = await promise;
    check(false, what, `expected error ${code}, got success ${JSON.stringify(res)}`);
  } catch (e) {
    check(e && e.code === code, what, `expected ${code}, got code=${e && e.code} message=${e && e.message}`);
  }
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function main() {
  const kms = client();

  // CreateKey
  const alias = `node-smoke-${crypto.randomBytes(6).toString("hex")}`;
  const created = await kms.CreateKey({ Alias: alias, Description: "node sdk smoke" });
  check(typeof created.KeyId === "string" && UUID_RE.test(created.KeyId), "CreateKey returns a UUID KeyId", JSON.stringify(created));
  check(created.Alias === alias, "CreateKey echoes the Alias", `got ${created.Alias}`);
  check(created.KeyState === "Enabled", "CreateKey: key is Enabled", `got ${created.KeyState}`);
  check(typeof created.RequestId === "string" && created.RequestId.length > 0, "CreateKey has a RequestId");
  const keyId = created.KeyId;

  // DescribeKey of the new key
  const described = await kms.DescribeKey({ KeyId: keyId });
  check(described.KeyMetadata && described.KeyMetadata.KeyId === keyId, "DescribeKey finds the new key", JSON.stringify(described));

  // GenerateDataKey (AES_256), then Decrypt its CiphertextBlob
  const ctx = JSON.stringify({ app: "node-smoke", n: "1" });
  const gdk = await kms.GenerateDataKey({ KeyId: keyId, KeySpec: "AES_256", EncryptionContext: ctx });
  const dk = Buffer.from(gdk.Plaintext || "", "base64");
  check(dk.length === 32, "GenerateDataKey AES_256 gives 32 bytes", `got ${dk.length}`);
  check(gdk.KeyId === keyId, "GenerateDataKey echoes KeyId", `got ${gdk.KeyId}`);
  check(typeof gdk.CiphertextBlob === "string" && gdk.CiphertextBlob.length > 0, "GenerateDataKey returns a CiphertextBlob");
  const dkBack = await kms.Decrypt({ CiphertextBlob: gdk.CiphertextBlob, EncryptionContext: ctx });
  check(Buffer.from(dkBack.Plaintext || "", "base64").equals(dk), "Decrypt(GenerateDataKey blob) gives the data key back");
  check(dkBack.KeyId === keyId, "Decrypt names the CMK", `got ${dkBack.KeyId}`);

  // NumberOfBytes (a BigInt-capable JSON serialiser is used by this SDK: check plain numbers work)
  const gdk17 = await kms.GenerateDataKey({ KeyId: keyId, NumberOfBytes: 17 });
  check(Buffer.from(gdk17.Plaintext || "", "base64").length === 17, "GenerateDataKey NumberOfBytes=17 gives 17 bytes");

  // Encrypt / Decrypt of a UTF-8 text with non-ASCII characters
  const text = Buffer.from("ferrokms node smoke ✓ 密钥 " + crypto.randomBytes(8).toString("hex"), "utf8");
  const enc = await kms.Encrypt({ KeyId: keyId, Plaintext: text.toString("base64") });
  check(typeof enc.CiphertextBlob === "string" && enc.CiphertextBlob.length > 0, "Encrypt returns a CiphertextBlob");
  check(enc.KeyId === keyId, "Encrypt echoes KeyId", `got ${enc.KeyId}`);
  const dec = await kms.Decrypt({ CiphertextBlob: enc.CiphertextBlob });
  check(Buffer.from(dec.Plaintext || "", "base64").equals(text), "Decrypt(Encrypt(x)) == x");

  // Errors
  await expectError(
    kms.DescribeKey({ KeyId: crypto.randomUUID() }),
    "ResourceUnavailable.CmkNotFound",
    "DescribeKey of an unknown UUID -> ResourceUnavailable.CmkNotFound",
  );
  await expectError(
    client(secretKey + "x").DescribeKey({ KeyId: keyId }),
    "AuthFailure.SignatureFailure",
    "a wrong SecretKey -> AuthFailure.SignatureFailure",
  );
}

try {
  await main();
} catch (e) {
  failures += 1;
  console.log(`FAIL unexpected SDK error: code=${e && e.code} message=${e && e.message} requestId=${e && e.requestId}`);
}
console.log(failures === 0 ? "SMOKE OK" : `SMOKE FAILED (${failures} check(s))`);
process.exit(failures === 0 ? 0 : 1);
