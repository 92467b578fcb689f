<?php
// The seed's /access example (file_get_contents), run against the service under test.
// usage: php seed_access.php HOST:PORT UID PASSWORD   (or env PUSH_DOMAIN, PUSH_UID, PUSH_PASSWORD)
// Prints the access key it obtained; exits 1 when the reply is not "_access".
$domain = $argv[1] ?? getenv('PUSH_DOMAIN') ?: 'localhost:8080';
$uid = $argv[2] ?? getenv('PUSH_UID') ?: '42';
$password = $argv[3] ?? getenv('PUSH_PASSWORD') ?: 'abc123';
$access_key = null;

// ---- from the seed document; only the ';' the snippet lacks after
// $msg['contents'] is added (without it PHP refuses to parse the file) ----
$url = "http://{$domain}/access?uid={$uid}&password={$password}";
$msg = json_decode(file_get_contents($url), true);
if($msg['topic'] == "_access"){
    $access_key = $msg['contents'];
}
// ---- end of the seed's snippet ----

if ($access_key === null) {
    fwrite(STDERR, "no access key: " . var_export($msg, true) . "\n");
    exit(1);
}
echo $access_key, "\n";
