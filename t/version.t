# One version everywhere: pushctl --version, and the module's notice at startup (PUSH0020)
# and its schema check (PUSH0008) in the error log, all built from configure.ac's AC_INIT.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use PushTest;

my $out = `$ENV{PUSHCTL} --version 2>&1`;
is $? >> 8, 0, 'pushctl --version exits 0';
like $out, qr/^pushctl \(mod_push\) (\d+\.\d+\.\d+), schema version \d+\n\z/, 'and prints the version';
my ($version) = $out =~ /\(mod_push\) (\S+),/;
$version //= 'none';
my ($schema) = $out =~ /schema version (\d+)/;
$schema //= 'none';

$out = `$ENV{PUSHCTL} --version extra 2>&1`;
is $? >> 8, 2, 'pushctl --version with an argument exits 2';
like $out, qr/usage: pushctl --version/, '... with a usage line';

# the lines httpd wrote when it started (error_log_since(0): the whole log)
my $log = error_log_since(0);
like $log, qr/\[push:notice\] .*PUSH0020: mod_push \Q$version\E \(schema version \Q$schema\E\) configured/,
     'the module logs its version at startup, the same as pushctl';
like $log, qr/\[push:notice\] .*PUSH0008: database '\w+' has mod_push schema version \Q$schema\E \(mod_push \Q$version\E\)/,
     'and names it in the schema check';
unlike $log, qr/PUSH0020: mod_push (?!\Q$version\E )/, 'no other version appears';
done_testing;
