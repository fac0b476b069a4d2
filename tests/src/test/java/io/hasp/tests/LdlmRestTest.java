package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.net.CookieManager;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * LDLM's REST API on every node (issue 16, acceptance 1): POST/DELETE /session with the ldlm-session cookie (a
 * cookie jar as curl's), POST /v1/lock (TryLock), /v1/unlock, /v1/renew with LDLM's JSON answers and error codes
 * by name, 401 naming /session without a valid cookie, a session's end (DELETE, or idle past its timeout)
 * releasing its locks, and the cookie working on every node (the session is replicated).
 */
class LdlmRestTest extends LdlmClusterTest {
  /**
   * Long enough that a session in use is never ended by a slow machine: with 3 s, a run beside two busy loops saw a
   * session expire between the keep-alive and the lock of one request ("session 12 does not exist or expired").
   */
  static final Duration REST_TIMEOUT = Duration.ofSeconds(8);

  @BeforeAll
  static void start() throws Exception {
    startCluster(Map.of("ldlm.rest.session.timeout", REST_TIMEOUT.toMillis() + "ms"));
  }

  /** One REST client: its own cookie jar. */
  static final class Rest {
    final CookieManager cookies = new CookieManager();
    final HttpClient http = HttpClient.newBuilder().cookieHandler(cookies).connectTimeout(Duration.ofSeconds(10)).build();

    HttpResponse<String> send(String method, String address, String path, String body) throws Exception {
      HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://" + address + path)).timeout(Duration.ofSeconds(30));
      b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
      return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    JsonObject post(String address, String path, String body, int expectedStatus) throws Exception {
      HttpResponse<String> r = send("POST", address, path, body);
      assertEquals(expectedStatus, r.statusCode(), path + " " + body + " -> " + r.body());
      assertEquals("application/json", r.headers().firstValue("Content-Type").orElse(""), r.headers().toString());
      return JsonParser.parseString(r.body()).getAsJsonObject();
    }
  }

  static void assertErrorCode(JsonObject answer, String code) {
    assertTrue(answer.has("error"), "no error in " + answer);
    assertEquals(code, answer.getAsJsonObject("error").get("code").getAsString(), answer.toString());
    assertFalse(answer.getAsJsonObject("error").get("message").getAsString().isEmpty(), answer.toString());
  }

  @Test
  void everyRouteThroughEachNode() throws Exception {
    for (int i = 0; i < 3; i++) {
      String at = rest.get(i);
      String elsewhere = rest.get((i + 1) % 3);
      String n = name("rest-n" + (i + 1));
      Rest a = new Rest();
      HttpResponse<String> created = a.send("POST", at, "/session", null);
      assertEquals(201, created.statusCode(), created.body());
      String id = JsonParser.parseString(created.body()).getAsJsonObject().get("session_id").getAsString();
      String setCookie = created.headers().firstValue("Set-Cookie").orElse("");
      assertTrue(setCookie.startsWith("ldlm-session=" + id + ";") && setCookie.contains("Expires="), setCookie);

      JsonObject locked = a.post(at, "/v1/lock", "{\"name\":\"" + n + "\",\"lock_timeout_seconds\":60}", 200);
      assertTrue(locked.get("locked").getAsBoolean(), locked.toString());
      assertEquals(n, locked.get("name").getAsString());
      String key = locked.get("key").getAsString();
      assertFalse(locked.has("error"), locked.toString());

      Rest b = new Rest();
      assertEquals(201, b.send("POST", elsewhere, "/session", null).statusCode());
      JsonObject taken = b.post(elsewhere, "/v1/lock", "{\"name\":\"" + n + "\"}", 200);
      assertFalse(taken.get("locked").getAsBoolean(), taken.toString());
      assertFalse(taken.has("error"), taken.toString());
      assertErrorCode(b.post(elsewhere, "/v1/lock", "{\"name\":\"" + n + "\",\"size\":2}", 200), "LockSizeMismatch");
      assertErrorCode(b.post(elsewhere, "/v1/lock", "{\"name\":\"" + n + "\",\"size\":0}", 200), "InvalidLockSize");

      JsonObject renewed = a.post(at, "/v1/renew", "{\"name\":\"" + n + "\",\"key\":\"" + key
          + "\",\"lock_timeout_seconds\":30}", 200);
      assertTrue(renewed.get("locked").getAsBoolean(), renewed.toString());
      assertEquals(key, renewed.get("key").getAsString());
      assertErrorCode(a.post(at, "/v1/renew", "{\"name\":\"" + n + "\",\"key\":\"nope\",\"lock_timeout_seconds\":30}",
          200), "LockDoesNotExistOrInvalidKey");
      // the camelCase field names of LDLM's JSON gateway work too
      JsonObject camel = a.post(at, "/v1/renew", "{\"name\":\"" + n + "\",\"key\":\"" + key
          + "\",\"lockTimeoutSeconds\":30}", 200);
      assertTrue(camel.get("locked").getAsBoolean(), camel.toString());

      JsonObject unlocked = a.post(at, "/v1/unlock", "{\"name\":\"" + n + "\",\"key\":\"" + key + "\"}", 200);
      assertTrue(unlocked.get("unlocked").getAsBoolean(), unlocked.toString());
      assertEquals(n, unlocked.get("name").getAsString());
      assertErrorCode(a.post(at, "/v1/unlock", "{\"name\":\"" + n + "\",\"key\":\"" + key + "\"}", 200),
          "LockDoesNotExist");

      // the session is the cluster's: its cookie works on another node too
      JsonObject viaOther = a.post(elsewhere, "/v1/lock", "{\"name\":\"" + n + "\"}", 200);
      assertTrue(viaOther.get("locked").getAsBoolean(), viaOther.toString());
      assertEquals(1, holders(n));

      // its end releases its locks
      HttpResponse<String> deleted = a.send("DELETE", at, "/session", null);
      assertEquals(200, deleted.statusCode(), deleted.body());
      await(Duration.ofSeconds(10), "the deleted session's lock is released", () -> !get(n).getExists());
      HttpResponse<String> again = a.send("DELETE", at, "/session", null);
      assertEquals(409, again.statusCode(), again.body());
      assertEquals("session not found", JsonParser.parseString(again.body()).getAsJsonObject().get("error").getAsString());
      JsonObject noCookie = a.post(at, "/v1/lock", "{\"name\":\"" + n + "\"}", 401);
      assertTrue(noCookie.get("error").getAsString().contains("/session"), noCookie.toString());
      // a cookie that names no live session (here: the deleted one, sent by hand)
      HttpResponse<String> stale = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
          URI.create("http://" + at + "/v1/lock")).header("Cookie", "ldlm-session=" + id)
          .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"" + n + "\"}")).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(401, stale.statusCode(), stale.body());
      assertTrue(stale.body().contains("/session"), stale.body());
      assertEquals(200, b.send("DELETE", elsewhere, "/session", null).statusCode());
    }
  }

  @Test
  void idleSessionExpiresAndReleasesItsLocksWhileUseKeepsItAlive() throws Exception {
    String n = name("rest-idle");
    Rest a = new Rest();
    assertEquals(201, a.send("POST", rest.get(0), "/session", null).statusCode());
    assertTrue(a.post(rest.get(0), "/v1/lock", "{\"name\":\"" + n + "\"}", 200).get("locked").getAsBoolean());
    // used every second for twice its timeout: the expiry slides
    long until = System.nanoTime() + 2 * REST_TIMEOUT.toNanos();
    int k = 0;
    long lastUse = 0;
    while (System.nanoTime() < until) {
      lastUse = System.nanoTime();
      JsonObject r = a.post(rest.get(k++ % 3), "/v1/lock", "{\"name\":\"" + name("other") + "\"}", 200);
      assertTrue(r.get("locked").getAsBoolean(), r.toString());
      ProcessCluster.sleep(1_000);
    }
    assertEquals(1, holders(n), "held while the session is used");
    // then idle: the leader ends the session after its timeout and releases its locks
    await(REST_TIMEOUT.plusSeconds(5), "the idle session's lock is released", () -> !get(n).getExists());
    long idleMs = (System.nanoTime() - lastUse) / 1_000_000;
    assertTrue(idleMs >= REST_TIMEOUT.toMillis() - 500, "ended " + idleMs + " ms after its last use");
    JsonObject expired = a.post(rest.get(1), "/v1/lock", "{\"name\":\"" + n + "\"}", 401);
    assertTrue(expired.get("error").getAsString().contains("/session"), expired.toString());
  }

  @Test
  void badRequestsGetClearAnswers() throws Exception {
    Rest a = new Rest();
    String at = rest.get(2);
    assertEquals(201, a.send("POST", at, "/session", null).statusCode());
    assertNotNull(a.post(at, "/v1/lock", "{not json", 400).get("error"));
    assertEquals(413, a.send("POST", at, "/v1/lock", "{\"name\":\"" + "x".repeat(70_000) + "\"}").statusCode());
    assertEquals(405, a.send("GET", at, "/v1/lock", null).statusCode());
    assertEquals(404, a.send("POST", at, "/v2/lock", "{}").statusCode());
    assertErrorCode(a.post(at, "/v1/lock", "{\"name\":\"\"}", 200), "Unknown");
    assertErrorCode(a.post(at, "/v1/unlock", "{\"name\":\"nothing-here\",\"key\":\"k\"}", 200), "LockDoesNotExist");
    assertEquals(200, a.send("DELETE", at, "/session", null).statusCode());
  }
}
