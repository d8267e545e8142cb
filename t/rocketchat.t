# Rocket.Chat's push.token (POST, DELETE) and push.info: authentication, the order of
# checks, upserts without duplicates, hand-over between users, deletion scoped to the
# caller, and the session a registration remembers.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use PushTest;

my $APP = 'test-rc';
my $alice = 'rc-alice-' . random_hex(6);
my $bob = 'rc-bob-' . random_hex(6);
my $ta = new_session($alice, $APP);
my $tb = new_session($bob, $APP);

sub rc {
    my ($method, $path, $user, $token, $body) = @_;
    my @h;
    push @h, 'X-User-Id' => $user if defined $user;
    push @h, 'X-Auth-Token' => $token if defined $token;
    my $content;
    if (defined $body) {
        $content = ref $body ? JSON::PP->new->utf8->encode($body) : $body;
        push @h, 'Content-Type' => 'application/json';
    }
    return request($method, "/api/v1/$path", headers => \@h, content => $content);
}
sub rc_400 {
    my ($res, $type, $reason, $name) = @_;
    my $b = json_body($res);
    subtest $name => sub {
        is $res->code, 400, 'status 400';
        is_deeply $b, {success => JSON::PP::false(), error => "$reason [$type]", errorType => $type},
            "errorType $type";
    };
}
my $ISO_MS = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

# --- authentication --------------------------------------------------------------------------------
my $login = {success => JSON::PP::false(), error => 'You must be logged in to do this.', status => 'error',
             message => 'You must be logged in to do this.'};
my %good = (type => 'gcm', value => 'fcm-' . random_hex(20), appName => 'chat.rocket.android');
for my $case ([undef, undef, 'no headers'], [$alice, undef, 'no X-Auth-Token'], [undef, $ta, 'no X-User-Id'],
              [$bob, $ta, "another user's id"], [$alice, random_hex(32), 'an unknown token']) {
    my $res = rc(POST => 'push.token', $case->[0], $case->[1], \%good);
    is $res->code, 401, "$case->[2]: 401";
    is_deeply json_body($res), $login, '... with the documented body';
}
my $short = new_session($alice, $APP, 1);
sleep 2;
is rc(POST => 'push.token', $alice, $short, \%good)->code, 401, 'an expired session: 401';

# --- order of checks ---------------------------------------------------------------------------------
rc_400(rc(POST => 'push.token', $alice, $ta, {type => 'unknownPlatform'}), 'error-type-param-not-valid',
       'The required "type" body param is missing or invalid.', '{"type":"unknownPlatform"} alone fails on type');
rc_400(rc(POST => 'push.token', $alice, $ta, {type => 'gcm', appName => 'x', value => ''}), 'error-token-param-not-valid',
       'The required "value" body param is missing or invalid.', 'an empty value fails on value');
rc_400(rc(POST => 'push.token', $alice, $ta, {id => 5, type => 'nope'}), 'error-id-param-not-valid',
       'The required "id" body param is invalid.', 'a number for id fails first');
rc_400(rc(POST => 'push.token', $alice, $ta, {type => 'apn', value => 'x'}), 'error-appName-param-not-valid',
       'The required "appName" body param is missing or invalid.', 'no appName');
rc_400(rc(POST => 'push.token', $alice, $ta, {type => 'apn', value => 7, appName => 'x'}), 'error-token-param-not-valid',
       'The required "value" body param is missing or invalid.', 'a number for value');
rc_400(rc(POST => 'push.token', $alice, $ta, {}), 'error-type-param-not-valid',
       'The required "type" body param is missing or invalid.', 'an empty body fails on type');
my $res = rc(POST => 'push.token', $alice, $ta, 'not json');
is $res->code, 400, 'a body that is not JSON is 400';
like json_body($res)->{error}, qr/JSON/, '... and says so';

# --- registering -------------------------------------------------------------------------------------
$res = rc(POST => 'push.token', $alice, $ta, \%good);
is $res->code, 200, 'POST push.token';
my $b = json_body($res);
is $b->{success}, JSON::PP::true(), 'success';
my $r = $b->{result};
like $r->{_id}, qr/^[23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz]{17}$/, 'a Meteor-style id';
is_deeply [$r->{token}, $r->{appName}, $r->{userId}, $r->{enabled}],
    [{gcm => $good{value}}, 'chat.rocket.android', $alice, JSON::PP::true()], 'the documented result';
like $r->{createdAt}, $ISO_MS, 'createdAt with milliseconds';
like $r->{updatedAt}, $ISO_MS, 'updatedAt with milliseconds';
unlike $res->content, qr/\Q$ta\E/, 'the session token is never echoed';
is psql("SELECT session_ref = encode(sha256('$ta'), 'hex') FROM push_device WHERE app_id = '$APP' AND device_id = '$r->{_id}'"),
   't', 'the record remembers the session that made it';
is psql("SELECT extra->>'appName' FROM push_device WHERE app_id = '$APP' AND device_id = '$r->{_id}'"),
   'chat.rocket.android', 'appName is kept (the APNs topic)';

my $again = json_body(rc(POST => 'push.token', $alice, $ta, \%good))->{result};
is $again->{_id}, $r->{_id}, 'the same token and appName again: the same record';
is $again->{createdAt}, $r->{createdAt}, '... created when it was';
is psql("SELECT count(*) FROM push_device WHERE app_id = '$APP' AND token = '$good{value}'"), 1, 'no duplicate';

my $given = 'rc-id-' . random_hex(6);
my $with_id = json_body(rc(POST => 'push.token', $alice, $ta, {%good, id => $given, value => 'apn-' . random_hex(8), type => 'apn'}))->{result};
is $with_id->{_id}, $given, 'an id given is the record id';
is_deeply $with_id->{token}, {apn => $with_id->{token}{apn}}, 'an apn token';
my $moved = json_body(rc(POST => 'push.token', $alice, $ta, {%good, id => $given}))->{result};
is_deeply [$moved->{_id}, $moved->{token}], [$given, {gcm => $good{value}}], 'the record found by id takes the new token';
is psql("SELECT count(*) FROM push_device WHERE app_id = '$APP' AND token = '$good{value}'"), 1,
   'and the token leaves its other record';

$res = rc(POST => 'push.token', $bob, $tb, {%good, id => $given});
is $res->code, 403, "another user naming a live user's record by id: 403";
is_deeply json_body($res), {success => JSON::PP::false(), errorType => 'error-not-allowed',
                            error => 'The push token record belongs to another user [error-not-allowed]'},
   "... in Rocket.Chat's format";
is psql("SELECT user_id FROM push_device WHERE app_id = '$APP' AND device_id = '$given'"), $alice, '... the record stays hers';
# the documented hand-over: the session that registered the record ended
my $carl = 'rc-carl-' . random_hex(6);
my $tcarl = new_session($carl, $APP);
my $given2 = 'rc-id-' . random_hex(6);
rc(POST => 'push.token', $carl, $tcarl, {%good, id => $given2, value => 'apn-' . random_hex(8), type => 'apn'});
pushctl('session', 'rm', $tcarl);
my $handed = json_body(rc(POST => 'push.token', $bob, $tb, {%good, id => $given2, value => 'gcm-' . random_hex(8)}))->{result};
is $handed->{userId}, $bob, 'a record whose session ended, handed to another user, moves to that user';
is psql("SELECT user_id FROM push_device WHERE app_id = '$APP' AND device_id = '$given2'"), $bob, '... in the store';

# --- an id not stored yet, with a token another record holds ----------------------------------------
# Rocket.Chat's pushUpdate: by id, else by token and appName; the record found is updated under
# its own id (createdAt and what the call does not give stay), and the answer shows it.
my $dave = 'rc-dave-' . random_hex(6);
my $td = new_session($dave, $APP);
my %seq = (type => 'gcm', value => 'seqtok-' . random_hex(12), appName => 'chat.rocket.android');
my ($seqA, $seqB) = map { "seq$_-" . random_hex(6) } 'A', 'B';
my $first = json_body(rc(POST => 'push.token', $dave, $td, {%seq, id => $seqA}))->{result};
is $first->{_id}, $seqA, 'step 1: the record is made under the id given';
select undef, undef, undef, 0.05;   # a createdAt made again would differ
$res = rc(POST => 'push.token', $dave, $td, {%seq, id => $seqB});
is $res->code, 200, 'step 2: the same token under another id';
my $second = json_body($res)->{result};
is $second->{_id}, $seqA, '... answers the record holding the token, under its own id';
is $second->{createdAt}, $first->{createdAt}, '... created when it was';
ok $second->{updatedAt} gt $first->{updatedAt}, '... updated now';
is_deeply [$second->{token}, $second->{userId}], [{gcm => $seq{value}}, $dave], '... with its token and owner';
is psql("SELECT string_agg(device_id, ',') FROM push_device WHERE app_id = '$APP' AND token = '$seq{value}'"),
   $seqA, 'one record holds the token: the first, under its id';
is psql("SELECT count(*) FROM push_device WHERE app_id = '$APP' AND device_id = '$seqB'"), 0, 'no record under the new id';
is json_body(rc(POST => 'push.token', $dave, $td, {%seq, id => $seqA}))->{result}{_id}, $seqA,
   'the first id still names it';
is psql("SELECT count(*) FROM push_device WHERE app_id = '$APP' AND token = '$seq{value}'"), 1, '... still one record';
# a voipToken registered before stays when the call gives none
my %ios = (type => 'apn', value => random_hex(64), appName => 'chat.rocket.ios');
my $voip = random_hex(64);
my ($vA, $vB) = map { "voip$_-" . random_hex(6) } 'A', 'B';
$res = rc(POST => 'push.token', $dave, $td, {%ios, id => $vA, voipToken => $voip});
is json_body($res)->{result}{voipToken}, $voip, 'a record with a voipToken';
$res = rc(POST => 'push.token', $dave, $td, {%ios, id => $vB});
is $res->code, 200, 'the same token under another id, no voipToken';
my $rv = json_body($res)->{result};
is_deeply [$rv->{_id}, $rv->{voipToken}], [$vA, $voip], '... the record keeps its id and its voipToken';
is psql("SELECT extra->>'voipToken' FROM push_device WHERE app_id = '$APP' AND device_id = '$vA'"), $voip,
   '... in the store';
is psql("SELECT count(*) FROM push_device WHERE app_id = '$APP' AND token = '$ios{value}'"), 1, '... one record';
$rv = json_body(rc(POST => 'push.token', $dave, $td, {%ios, id => $vA}))->{result};
is $rv->{voipToken}, $voip, 'named by its id without a voipToken: kept too';
# the owners' rules are those of a record named by id
$res = rc(POST => 'push.token', $bob, $tb, {%seq, id => 'seqC-' . random_hex(6)});
is $res->code, 403, "another user, a new id, a live user's token: 403";
is json_body($res)->{errorType}, 'error-not-allowed', '... error-not-allowed';
is psql("SELECT device_id || ' ' || user_id FROM push_device WHERE app_id = '$APP' AND token = '$seq{value}'"),
   "$seqA $dave", '... the record stays as it was';
my $erin = 'rc-erin-' . random_hex(6);
my $terin = new_session($erin, $APP);
my %hand = (type => 'gcm', value => 'hand-' . random_hex(12), appName => 'chat.rocket.android');
my $hA = 'handA-' . random_hex(6);
my $h1 = json_body(rc(POST => 'push.token', $erin, $terin, {%hand, id => $hA}))->{result};
pushctl('session', 'rm', $terin);
$res = rc(POST => 'push.token', $bob, $tb, {%hand, id => 'handB-' . random_hex(6)});
is $res->code, 200, "another user, a new id, the token of a record whose session ended";
my $h2 = json_body($res)->{result};
is_deeply [$h2->{_id}, $h2->{userId}, $h2->{createdAt}], [$hA, $bob, $h1->{createdAt}],
   '... the record moves to that user under its id';
is psql("SELECT device_id || ' ' || user_id FROM push_device WHERE app_id = '$APP' AND token = '$hand{value}'"),
   "$hA $bob", '... in the store, one record';

# --- deleting ----------------------------------------------------------------------------------------
my %shared = (type => 'apn', value => 'shared-' . random_hex(10), appName => 'chat.rocket.ios');
rc(POST => 'push.token', $alice, $ta, \%shared);
$res = rc(POST => 'push.token', $bob, $tb, {%shared, appName => 'other.app'});
is $res->code, 403, "another user's token value under another appName: 403";
is json_body($res)->{errorType}, 'error-not-allowed', '... error-not-allowed';
is psql("SELECT count(*) FROM push_device WHERE app_id = '$APP' AND token = '$shared{value}'"), 1,
   'one live record per token';
$res = rc(DELETE => 'push.token', $bob, $tb, {token => $shared{value}});
is $res->code, 404, "deleting a token another user holds: 404";
is_deeply json_body($res), {success => JSON::PP::false(), error => 'Resource not found'}, '... Resource not found';
is psql("SELECT user_id FROM push_device WHERE app_id = '$APP' AND token = '$shared{value}'"), $alice,
   "the other user's record stays";
$res = rc(DELETE => 'push.token', $alice, $ta, {token => $shared{value}});
is $res->code, 200, 'the owner deletes it';
is_deeply json_body($res), {success => JSON::PP::true()}, '{"success": true}';
is rc(DELETE => 'push.token', $alice, $ta, {token => $shared{value}})->code, 404, 'deleting again: 404';
rc_400(rc(DELETE => 'push.token', $bob, $tb, {token => ''}), 'error-token-param-not-valid',
       'The required "token" body param is missing or invalid.', 'DELETE with an empty token');
rc_400(rc(DELETE => 'push.token', $bob, $tb, {}), 'error-token-param-not-valid',
       'The required "token" body param is missing or invalid.', 'DELETE without a token');
is rc(DELETE => 'push.token', undef, undef, {token => 'x'})->code, 401, 'DELETE needs a session';

# --- push.info and the rest ----------------------------------------------------------------------------
$res = rc(GET => 'push.info', $alice, $ta);
is_deeply [$res->code, json_body($res)], [200, {pushGatewayEnabled => JSON::PP::true(),
          defaultPushGateway => JSON::PP::true(), success => JSON::PP::true()}],
    'push.info: the sender is on, so pushes are sent';
is rc(GET => 'push.info')->code, 401, 'push.info needs a session';
is rc(GET => 'push.token', $alice, $ta)->code, 405, 'GET push.token: 405';
is rc(GET => 'push.test', $alice, $ta)->code, 405, 'GET push.test: 405';

# --- the session ends ------------------------------------------------------------------------------------
rc(POST => 'push.token', $alice, $ta, {%good, value => 'last-' . random_hex(8)});
pushctl('session', 'rm', $ta);
is rc(POST => 'push.token', $alice, $ta, \%good)->code, 401, 'a removed session is refused';
is psql("SELECT count(*) FROM push_device d WHERE d.app_id = '$APP' AND d.session_ref = encode(sha256('$ta'), 'hex') "
        . "AND NOT EXISTS (SELECT 1 FROM push_session s WHERE s.token_hash = d.session_ref)"), 2,
   'its records (the one named by id that bob could not take, and the last) now point at no live session '
   . '(the sender skips them)';
done_testing;
