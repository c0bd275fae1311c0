/* The DNS server's zones document (src/dns/dnsd.c): the faults a record set may carry,
 * checked as the admin API checks a pushed document and as the server checks each
 * fault before it pushes one. */
#include "core/err.h"
#include "dns/dnsd.h"

#include <criterion/criterion.h>
#include <string.h>

static int check_fault(const char *json, char *err)
{
    json_error_t je;
    json_t *f = json_loads(json, 0, &je);
    cr_assert(f, "test JSON: %s", je.text);
    int r = gd_dns_fault_check(f, err, 256);
    json_decref(f);
    return r;
}

static int check_doc_with_faults(const char *faults, char *err)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"zones\": [{\"name\": \"team1.gameday.test\", \"team\": 1, \"records\": ["
             "{\"name\": \"www\", \"type\": \"A\", \"ttl\": 60, \"values\": [\"127.1.0.4\"]},"
             "{\"name\": \"api\", \"type\": \"A\", \"ttl\": 60, \"values\": [\"127.1.0.5\"],"
             " \"faults\": %s}]}]}",
             faults);
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);
    cr_assert(doc, "test JSON: %s", je.text);
    int r = gd_dns_config_check(doc, err, 256);
    json_decref(doc);
    return r;
}

Test(dnsd, good_faults)
{
    char err[256] = "";
    cr_assert_eq(check_fault("{\"id\": \"f-1\", \"kind\": \"outage\"}", err), 0, "%s", err);
    cr_assert_eq(check_fault("{\"kind\": \"servfail\", \"probability\": 0.25}", err), 0, "%s", err);
    cr_assert_eq(check_fault("{\"kind\": \"wrong\", \"address\": \"127.1.0.99\", "
                             "\"probability\": 1}",
                             err),
                 0, "%s", err);
    cr_assert_eq(check_fault("{\"kind\": \"outage\", \"probability\": 0}", err), 0, "%s", err);
    cr_assert_eq(check_doc_with_faults("[{\"kind\": \"outage\"}, {\"kind\": \"wrong\", "
                                       "\"address\": \"127.1.0.9\"}]",
                                       err),
                 0, "%s", err);
    cr_assert_eq(check_doc_with_faults("[]", err), 0, "%s", err);
}

Test(dnsd, bad_faults_say_what_is_allowed)
{
    static const struct {
        const char *fault, *want;
    } cases[] = {
        {"{}", "kind: one of outage (no answer), servfail, wrong (another address)"},
        {"{\"kind\": \"slot_hog\"}", "kind: one of outage"},
        {"[]", "kind:"},
        {"{\"kind\": \"wrong\"}", "address: the IPv4 address a wrong fault answers"},
        {"{\"kind\": \"wrong\", \"address\": \"::1\"}", "address:"},
        {"{\"kind\": \"wrong\", \"address\": 7}", "address:"},
        {"{\"kind\": \"outage\", \"probability\": -0.1}", "probability: a number 0..1"},
        {"{\"kind\": \"outage\", \"probability\": 1.01}", "probability:"},
        {"{\"kind\": \"outage\", \"probability\": true}", "probability:"},
        {"{\"kind\": \"outage\", \"id\": 3}", "id: a string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        cr_assert_eq(check_fault(cases[i].fault, err), GD_EINVAL, "refused: %s", cases[i].fault);
        cr_assert(strstr(err, cases[i].want), "%s: %s lacks %s", cases[i].fault, err,
                  cases[i].want);
    }
}

Test(dnsd, a_document_with_a_bad_fault_is_refused_with_its_path)
{
    char err[256] = "";
    cr_assert_eq(check_doc_with_faults("[{\"kind\": \"outage\"}, {\"kind\": \"nope\"}]", err),
                 GD_EINVAL);
    cr_assert(strstr(err, "zones[0].records[1].faults[1].kind: one of outage"), "%s", err);
    cr_assert_eq(check_doc_with_faults("{\"kind\": \"outage\"}", err), GD_EINVAL);
    cr_assert(strstr(err, "zones[0].records[1].faults: a list of at most 8 faults"), "%s", err);
    char nine[512] = "[";
    for (int i = 0; i < 9; i++)
        strcat(nine, i ? ",{\"kind\":\"outage\"}" : "{\"kind\":\"outage\"}");
    strcat(nine, "]");
    cr_assert_eq(check_doc_with_faults(nine, err), GD_EINVAL);
    cr_assert(strstr(err, "faults: a list of at most 8 faults"), "%s", err);
}
