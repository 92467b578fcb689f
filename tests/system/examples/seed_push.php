<?php
// The seed's /push example, run against the service under test.
// usage: php seed_push.php HOST PORT UID PASSWORD   (or env PUSH_HOST, PUSH_PORT, PUSH_UID, PUSH_PASSWORD)
// Prints the service's reply as returned by httpPostRaw.
$host = $argv[1] ?? getenv('PUSH_HOST') ?: 'localhost';
$port = $argv[2] ?? getenv('PUSH_PORT') ?: '8080';
$uid = $argv[3] ?? getenv('PUSH_UID') ?: '42';
$password = $argv[4] ?? getenv('PUSH_PASSWORD') ?: 'abc123';

// ---- from the seed document, unchanged ----
//场景， 会员资料更新后
function httpPostRaw($url, $data){
    $headers = array(
        "Content-type: application/json;charset='utf-8'"
    );
    $ch = curl_init($url);
    curl_setopt($ch, CURLOPT_TIMEOUT, 60); //设置超时
    $url = '这里为请求地址';
    if(0 === strpos(strtolower($url), 'https')) {
        curl_setopt($ch, CURLOPT_SSL_VERIFYPEER, 0); //对认证证书来源的检查
        curl_setopt($ch, CURLOPT_SSL_VERIFYHOST, 0); //从证书中检查SSL加密算法是否存在
    }
    curl_setopt($ch, CURLOPT_POST, TRUE);
    curl_setopt($ch, CURLOPT_POSTFIELDS, json_encode($data)); 
    curl_setopt($ch, CURLOPT_RETURNTRANSFER, TRUE); 
    curl_setopt($ch, CURLOPT_HTTPHEADER, $headers); 
    $rtn = curl_exec($ch);//CURLOPT_RETURNTRANSFER 不设置  curl_exec返回TRUE 设置  curl_exec返回json(此处) 失败都返回FALSE
    curl_close($ch);

    return $rtn;
}
// ---- end of the seed's function ----

// The seed's call, with the URL pointing at the service under test.
$url = "http://{$host}:{$port}/push?uid={$uid}&password={$password}";
$data = [
    'topic' => "info_update",
    "contents" => [
        'name' => "张三",
        'age' => 17
    ]
];
$rtn = httpPostRaw($url, $data);
if ($rtn === false) {
    fwrite(STDERR, "curl_exec failed\n");
    exit(1);
}
echo $rtn, "\n";
