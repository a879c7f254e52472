#!/usr/bin/perl
# Interop client for test/e2e/net-smpp.test.ts: Debian's Net::SMPP (libnet-smpp-perl) binds as a
# transceiver, submits N messages asking for receipts, answers every deliver_sm, queries one
# message, and prints one line per event: "bind <status>", "submit <status> <id>",
# "receipt <receipted id> <stat>", "query <status> <state>", "unbind <status>".
use strict;
use warnings;
use Net::SMPP;
$| = 1;
my ($port, $system_id, $password, $count) = @ARGV;
my $smpp = Net::SMPP->new_transceiver('127.0.0.1', port => $port, system_id => $system_id,
  password => $password, interface_version => 0x34, async => 0) or die "connect failed: $!";
print "bind 0\n";
my @ids;
for my $i (1 .. $count) {
  my $resp = $smpp->submit_sm(source_addr => '12345', destination_addr => "4670000000$i",
    short_message => "Net::SMPP message $i", registered_delivery => 1) or die "submit failed";
  printf "submit %d %s\n", $resp->{status}, $resp->{message_id};
  push @ids, $resp->{message_id};
}
my $q = $smpp->query_sm(message_id => $ids[0], source_addr => '12345') or die "query failed";
printf "query %d %d\n", $q->{status}, $q->{message_state};
my $got = 0;
while ($got < $count) {
  my $pdu = $smpp->read_pdu() or die "read failed";
  if ($pdu->{cmd} == 0x00000005) {
    $smpp->deliver_sm_resp(seq => $pdu->{seq}, message_id => '');
    my ($stat) = $pdu->{short_message} =~ /stat:(\w+)/;
    # receipted_message_id is a C-Octet String TLV (SMPP 3.4 §5.3.2.12); Net::SMPP keeps the NUL
    (my $rid = $pdu->{receipted_message_id} // '-') =~ s/\0$//;
    printf "receipt %s %s\n", $rid, $stat // '-';
    $got++;
  } elsif ($pdu->{cmd} == 0x00000015) {
    $smpp->enquire_link_resp(seq => $pdu->{seq});
  }
}
my $u = $smpp->unbind();
printf "unbind %d\n", $u ? $u->{status} : -1;
