<?php

/**
 * congvu-mail password driver for the stock 'password' plugin (Settings > Password).
 *
 * Binds as the user, changes userPassword with the Password Modify extended operation
 * (slapd's ppolicy/ppm check it) and returns the refusal reason in the user's language
 * (Vietnamese by default). Also the strength driver: the province rules are checked first
 * (Hà Nam Art 8.2.b, Gia Lai Art 9.2, Cần Thơ Art 10.3, Ninh Bình Art 11.1).
 * Installed by the congvu-mail roundcube role; the logic lives in the congvu_security plugin.
 */

require_once INSTALL_PATH . 'plugins/congvu_security/lib/congvu_directory.php';
require_once INSTALL_PATH . 'plugins/congvu_security/lib/congvu_password_rules.php';

class rcube_congvu_ldap_password
{
    public function save($curpass, $passwd, $username)
    {
        $violations = congvu_security::precheck($passwd, $username);
        if ($violations) {
            return ['code' => PASSWORD_ERROR, 'message' => congvu_security::reasons_text($violations)];
        }
        $dir = congvu_security::directory();
        $account = $dir->find_account($username);
        if (!$account) {
            return PASSWORD_CONNECT_ERROR;
        }
        $result = $dir->change_password($account['dn'], $curpass, $passwd);
        if ($result['ok']) {
            return PASSWORD_SUCCESS;
        }
        rcube::write_log('congvu', "password change for $username refused: {$result['reason']} ({$result['diag']})");
        return ['code' => PASSWORD_ERROR,
                'message' => congvu_security::reasons_text([[$result['reason'], []]])];
    }

    public function check_strength($passwd)
    {
        $violations = congvu_security::precheck($passwd, $_SESSION['username'] ?? '');
        return $violations ? [1, congvu_security::reasons_text($violations)] : [5, null];
    }

    public function strength_rules()
    {
        $rules = rcube::get_instance()->config->get('congvu_password_rules');
        if (empty($rules)) {
            return [];
        }
        return [rcube::get_instance()->gettext(['name' => 'congvu_security.rules', 'vars' => [
            'n'       => (int) $rules['min_length'],
            'classes' => implode(', ', array_map(function ($c) {
                return rcube::get_instance()->gettext("congvu_security.class_$c");
            }, (array) $rules['classes'])),
            'chars'   => implode(' ', str_split((string) $rules['special_chars'])),
        ]])];
    }
}
