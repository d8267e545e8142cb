# MobileFirst provider settings: PUT (and POST), GET, DELETE for APNs (token auth), GCM/FCM
# (legacy key and service account), WNS and SMS; secrets sealed at rest and never answered.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use PushTest;

my ($token) = oauth_token('*');
my $app = 'settings-' . random_hex(6);
mf(POST => '/apps', $token, {applicationId => $app});
my @answers;   # every response, to look for secrets afterwards
sub call { my $res = mf(@_); push @answers, $res->as_string; return $res }
sub mf_err {
    my ($res, $status, $code, $name) = @_;
    my $b = json_body($res);
    ok $res->code == $status && $b && $b->{code} eq $code, "$name: $status $code" or diag $res->as_string;
}

my $p8 = `openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt 2>/dev/null`;
like $p8, qr/BEGIN PRIVATE KEY/, 'a test APNs key';
my $rsa = `openssl genrsa 2048 2>/dev/null | openssl pkcs8 -topk8 -nocrypt 2>/dev/null`;
my $base = "/apps/$app/settings";

# --- APNs token auth ----------------------------------------------------------------------------------
my %apns = (keyId => 'ABC123DEFG', teamId => 'TEAM123456', bundleId => 'com.example.app', p8 => $p8,
            isSandBox => JSON::PP::true());
my $res = call(PUT => "$base/apnsConf", $token, \%apns);
is $res->code, 200, 'PUT apnsConf';
my $b = json_body($res);
is_deeply [@$b{qw(keyId teamId bundleId authType)}], ['ABC123DEFG', 'TEAM123456', 'com.example.app', 'token'],
    'answers what was stored';
ok !exists $b->{p8}, 'without the key';
$b = json_body(call(GET => "$base/apnsConf", $token));
is $b->{bundleId}, 'com.example.app', 'GET apnsConf';
ok !exists $b->{p8}, 'GET never shows the key';
is call(POST => "$base/apnsConf", $token, {%apns, isSandBox => JSON::PP::false()})->code, 200, 'POST is an alias of PUT';
is json_body(call(GET => "$base/apnsConf", $token))->{isSandBox}, JSON::PP::false(), 'and replaces the settings';
mf_err(call(PUT => "$base/apnsConf", $token, {%apns, p8 => 'not a key'}), 400, 'FPWSE0005E', 'a p8 that is not a key');
mf_err(call(PUT => "$base/apnsConf", $token, {%apns, p8 => $rsa}), 400, 'FPWSE0005E', 'an RSA key is not an APNs key');
mf_err(call(PUT => "$base/apnsConf", $token, {%apns, keyId => undef}), 400, 'FPWSE0005E', 'no keyId');
mf_err(call(PUT => "$base/apnsConf", $token, {%apns, isSandBox => 'yes'}), 400, 'FPWSE0005E', 'isSandBox not a boolean');
mf_err(call(PUT => "$base/apnsConf", $token, {%apns, colour => 1}), 400, 'FPWSE0006E', 'an unknown property');
is psql("SELECT position(convert_to('BEGIN PRIVATE KEY', 'UTF8') in secret) FROM push_credential "
        . "WHERE app_id = '$app' AND provider = 'apns'"), 0, 'the key is not stored in the clear';
is psql("SELECT length(secret) > 100 FROM push_credential WHERE app_id = '$app' AND provider = 'apns'"), 't',
   'but sealed';

# --- APNs certificate auth: the multipart .p12 upload ------------------------------------------------
use HTTP::Request::Common ();
use File::Temp qw(tempdir);
my $dir = tempdir(CLEANUP => 1);
system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=com.example.app "
       . "-days 365 -keyout $dir/k.pem -out $dir/c.pem >/dev/null 2>&1") == 0 or BAIL_OUT('openssl req');
system("openssl pkcs12 -export -inkey $dir/k.pem -in $dir/c.pem -passout pass:s3cret -out $dir/apns.p12") == 0
    or BAIL_OUT('openssl pkcs12');
my $p12 = do { local $/; open my $fh, '<:raw', "$dir/apns.p12" or die; <$fh> };
sub upload {
    my (%form) = @_;
    my $req = HTTP::Request::Common::POST('http://x/', Content_Type => 'form-data', Content => [%form]);
    return call(PUT => "$base/apnsConf", $token, $req->content,
                headers => ['Content-Type' => scalar $req->header('Content-Type')]);
}
$res = upload(certificate => [undef, 'apns.p12', Content => $p12], password => 's3cret', isSandBox => 'true');
is $res->code, 200, 'PUT apnsConf with a .p12 upload (multipart/form-data)';
$b = json_body($res);
is_deeply [@$b{qw(authType certificate subject isSandBox)}], ['certificate', 'apns.p12', 'com.example.app', JSON::PP::true()],
    'answers the certificate it holds';
like $b->{validUntil}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'and until when it is valid';
$b = json_body(call(GET => "$base/apnsConf", $token));
is_deeply [@$b{qw(certificate isSandBox)}], ['apns.p12', JSON::PP::true()], 'GET apnsConf: certificate, isSandBox';
ok !exists $b->{password} && !exists $b->{p12}, 'never the password or the file';
$res = mf(GET => "$base/apnsCert", $token);
is $res->code, 200, 'GET apnsCert';
is $res->header('Content-Type'), 'application/x-pkcs12', 'as a PKCS#12 file';
ok $res->content eq $p12, 'the very file that was uploaded';
my ($cert_reader) = oauth_token("apnsConf.read push.application.$app");
is mf(GET => "$base/apnsCert", $cert_reader)->code, 403, 'apnsConf.read is not apnsCert.read';
mf_err(upload(certificate => [undef, 'apns.p12', Content => $p12], password => 'wrong'), 400, 'FPWSE0005E',
       'a .p12 that does not open with its password');
like json_body(upload(certificate => [undef, 'apns.p12', Content => $p12], password => 'wrong'))->{message},
     qr/password/, '... says so';
mf_err(upload(certificate => [undef, 'apns.p12', Content => 'not a certificate'], password => 's3cret'), 400,
       'FPWSE0005E', 'a file that is not a .p12');
mf_err(upload(password => 's3cret'), 400, 'FPWSE0005E', 'no certificate part');

# A .p12 declaring 40 million MAC iterations: seconds of CPU to check its MAC. It is refused
# from its declared counts, before any key is derived. Its MAC value stays the one made with
# 2048 iterations: nothing should get far enough to notice.
sub der_len { my $n = shift; return chr($n) if $n < 128; my $b = ''; while ($n) { $b = chr($n & 255) . $b; $n >>= 8 } chr(0x80 | length $b) . $b }
sub der { my ($tag, $v) = @_; $tag . der_len(length $v) . $v }
sub der_tlvs {   # the TLVs that make up a DER value's contents
    my $s = shift;
    my @out;
    while (length $s) {
        my ($l, $hl) = (ord substr($s, 1, 1), 2);
        if ($l & 0x80) { my $k = $l & 0x7f; $l = 0; $l = $l * 256 + ord substr($s, 2 + $_, 1) for 0 .. $k - 1; $hl += $k }
        push @out, [substr($s, 0, 1), substr($s, $hl, $l)];
        substr($s, 0, $hl + $l) = '';
    }
    return @out;
}
sub with_mac_iter {
    my ($file, $iter) = @_;
    my ($pfx) = der_tlvs($file);
    my ($version, $auth_safe, $mac_data) = der_tlvs($pfx->[1]);
    my ($digest, $salt) = der_tlvs($mac_data->[1]);
    my $int = ''; for (my $n = $iter; $n; $n >>= 8) { $int = chr($n & 255) . $int }
    $int = "\0$int" if ord($int) & 0x80;
    return der("\x30", join '', der(@$version), der(@$auth_safe),
               der("\x30", join '', der(@$digest), der(@$salt), der("\x02", $int)));
}
my $slow = with_mac_iter($p12, 40_000_000);
ok $slow =~ /\x02\x04\x02\x62\x5a\x00\z/, 'a .p12 declaring 40000000 MAC iterations';
use Time::HiRes ();
my $t0 = Time::HiRes::time();
my $slow_res = upload(certificate => [undef, 'slow.p12', Content => $slow], password => 's3cret');
my $took = Time::HiRes::time() - $t0;
mf_err($slow_res, 400, 'FPWSE0005E', 'a .p12 declaring 40000000 MAC iterations is refused');
like json_body($slow_res)->{message}, qr/MAC iteration count 40000000 exceeds 100000/, '... naming the count and the cap';
ok $took < 0.5, sprintf('... at once (%.3f s)', $took);
diag sprintf('the 40000000-iteration upload was refused in %.1f ms', $took * 1000);
is with_mac_iter($p12, 2048), $p12, 'the test rewrites a .p12 faithfully';
system("openssl pkcs12 -export -inkey $dir/k.pem -in $dir/c.pem -passout pass:s3cret -iter 100000 "
       . "-out $dir/cap.p12") == 0 or BAIL_OUT('openssl pkcs12 -iter');
my $cap = do { local $/; open my $fh, '<:raw', "$dir/cap.p12" or die; <$fh> };
$t0 = Time::HiRes::time();
is upload(certificate => [undef, 'cap.p12', Content => $cap], password => 's3cret')->code, 200,
   'a .p12 at 100000 iterations is accepted';
diag sprintf('the 100000-iteration upload was accepted in %.1f ms', (Time::HiRes::time() - $t0) * 1000);
is upload(certificate => [undef, 'apns.p12', Content => $p12], password => 's3cret', isSandBox => 'true')->code, 200,
   'and the 2048-iteration one again';
mf_err(call(PUT => "$base/apnsConf", $token, "--x\r\nbroken", headers => ['Content-Type' => 'multipart/form-data; boundary=x']),
       400, 'FPWSE0005E', 'a broken multipart body');
is psql("SELECT position(convert_to('s3cret', 'UTF8') in secret) FROM push_credential WHERE app_id = '$app' AND provider = 'apns'"),
   0, 'the password is not stored in the clear';
push @answers, $res->as_string =~ s/\n\n.*//sr;   # the download itself is the one place the file may appear

# --- GCM / FCM -------------------------------------------------------------------------------------------
my $api_key = 'AIza-' . random_hex(30);
$res = call(PUT => "$base/gcmConf", $token, {apiKey => $api_key, senderId => '123456789012'});
is $res->code, 200, 'PUT gcmConf with a legacy key';
$b = json_body(call(GET => "$base/gcmConf", $token));
is_deeply [$b->{senderId}, $b->{api}], ['123456789012', 'legacy'], 'GET gcmConf';
$b = json_body(call(GET => "$base/gcmConfPublic", $token));
is_deeply $b, {senderId => '123456789012'}, 'GET gcmConfPublic answers only the senderId';
my %account = (type => 'service_account', project_id => 'demo-project', private_key => $rsa,
               client_email => 'push@demo-project.iam.gserviceaccount.com', token_uri => 'https://oauth2.googleapis.com/token');
$res = call(PUT => "$base/gcmConf", $token, {serviceAccount => \%account, senderId => '123'});
is $res->code, 200, 'PUT gcmConf with a service account (FCM HTTP v1)';
$b = json_body(call(GET => "$base/gcmConf", $token));
is_deeply [@$b{qw(projectId clientEmail api)}], ['demo-project', 'push@demo-project.iam.gserviceaccount.com', 'v1'],
    'GET shows the project and the account';
is call(PUT => "$base/gcmConf", $token, {serviceAccount => \%account})->code, 200, 'a service account without a senderId';
mf_err(call(GET => "$base/gcmConfPublic", $token), 404, 'FPWSE0001E',
       'gcmConfPublic without a senderId is 404 (the Android SDK needs one), not {}');
call(PUT => "$base/gcmConf", $token, {serviceAccount => \%account, senderId => '123'});
mf_err(call(PUT => "$base/gcmConf", $token, {serviceAccount => {%account, type => 'user'}}), 400, 'FPWSE0005E',
       'a credential that is not a service account');
mf_err(call(PUT => "$base/gcmConf", $token, {serviceAccount => {%account, private_key => undef}}), 400, 'FPWSE0005E',
       'a service account without its key');
mf_err(call(PUT => "$base/gcmConf", $token, {senderId => '1'}), 400, 'FPWSE0005E', 'neither key nor account');

# --- WNS and SMS ----------------------------------------------------------------------------------------
my $wns_secret = 'wns-' . random_hex(20);
is call(PUT => "$base/wnsConf", $token, {clientSecret => $wns_secret, packageSID => 'ms-app://s-1-15-2-1'})->code, 200,
   'PUT wnsConf';
is_deeply json_body(call(GET => "$base/wnsConf", $token)), {packageSID => 'ms-app://s-1-15-2-1'},
    'GET wnsConf hides the client secret';
my %sms = (name => 'gateway', host => 'sms.example.net', port => 8080, programName => '/send',
           parameters => [{name => 'to', value => '$phone', encode => JSON::PP::true()}]);
is call(PUT => "$base/smsConf", $token, \%sms)->code, 200, 'PUT smsConf';
is_deeply json_body(call(GET => "$base/smsConf", $token)),
          {%sms, parameters => [{name => 'to', encode => JSON::PP::true()}]}, 'GET smsConf: the parameters without their values';
mf_err(call(PUT => "$base/smsConf", $token, {%sms, port => 70000}), 400, 'FPWSE0005E', 'a port out of range');
mf_err(call(PUT => "$base/smsConf", $token, {%sms, parameters => 'to'}), 400, 'FPWSE0005E', 'parameters not an array');

# --- summary and delete ----------------------------------------------------------------------------------
$b = json_body(call(GET => $base, $token));
is $b->{applicationId}, $app, 'GET settings';
like $b->{$_}, qr{/apps/\Q$app\E/settings/$_$}, "links $_" for qw(apnsConf gcmConf wnsConf smsConf);
is $b->{mode}, 'SANDBOX', 'mode follows APNs isSandBox';
is call(DELETE => "$base/wnsConf", $token)->code, 204, 'DELETE wnsConf';
mf_err(call(GET => "$base/wnsConf", $token), 404, 'FPWSE0001E', 'GET after DELETE');
mf_err(call(DELETE => "$base/wnsConf", $token), 404, 'FPWSE0001E', 'DELETE again');
is json_body(call(GET => $base, $token))->{wnsConf}, '', 'the summary no longer links it';
my ($public_only) = oauth_token("gcmConfPublic.read push.application.$app");
is mf(GET => "$base/gcmConfPublic", $public_only)->code, 200, 'gcmConfPublic.read reads the public part';
is mf(GET => "$base/gcmConf", $public_only)->code, 403, 'but not the rest';

# --- no secret ever left ----------------------------------------------------------------------------------
my $all = join "\n", @answers;
(my $p8_body = $p8) =~ s/-----[A-Z ]+-----|\s//g;
for my $s ([p8 => substr($p8_body, 10, 40)], [apiKey => $api_key], [password => 's3cret"'], ['service account key' => substr($rsa, 40, 40)],
           [clientSecret => $wns_secret]) {
    unlike $all, qr/\Q$s->[1]\E/, "no answer contained the $s->[0]";
}
is call(DELETE => "/apps/$app", $token)->code, 204, 'deleting the application';
is psql("SELECT count(*) FROM push_credential WHERE app_id = '$app'"), 0, 'deletes its settings';
done_testing;
