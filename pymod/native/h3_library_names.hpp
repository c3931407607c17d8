#pragma once
// The functions of HTTP/3's libraries (libnghttp3, libngtcp2, libngtcp2_crypto_gnutls,
// GnuTLS) that the extension calls: one X-macro list, read by the extension's trampolines
// (h3_libraries.cpp) and by the module that links the libraries (h3_libraries_module.cpp).
// A name the C++ of quic/ or h3/ starts to use goes here, or the extension does not import
// ("undefined symbol"); the list is `nm -D --undefined-only` of a build that links them.

// RINGBOLT_H3_LIBRARY_FUNCTIONS(X): X(name) for each function (type T in `nm -D`).
#define RINGBOLT_H3_LIBRARY_FUNCTIONS(X)                                                                               \
    X(nghttp3_conn_add_ack_offset)                                                                                     \
    X(nghttp3_conn_add_write_offset)                                                                                   \
    X(nghttp3_conn_bind_control_stream)                                                                                \
    X(nghttp3_conn_bind_qpack_streams)                                                                                 \
    X(nghttp3_conn_block_stream)                                                                                       \
    X(nghttp3_conn_close_stream)                                                                                       \
    X(nghttp3_conn_del)                                                                                                \
    X(nghttp3_conn_get_stream_priority)                                                                                \
    X(nghttp3_conn_read_stream)                                                                                        \
    X(nghttp3_conn_resume_stream)                                                                                      \
    X(nghttp3_conn_server_new_versioned)                                                                               \
    X(nghttp3_conn_set_max_client_streams_bidi)                                                                        \
    X(nghttp3_conn_set_stream_priority)                                                                                \
    X(nghttp3_conn_shutdown)                                                                                           \
    X(nghttp3_conn_shutdown_stream_read)                                                                               \
    X(nghttp3_conn_shutdown_stream_write)                                                                              \
    X(nghttp3_conn_submit_response)                                                                                    \
    X(nghttp3_conn_submit_trailers)                                                                                    \
    X(nghttp3_conn_unblock_stream)                                                                                     \
    X(nghttp3_conn_writev_stream)                                                                                      \
    X(nghttp3_err_infer_quic_app_error_code)                                                                           \
    X(nghttp3_rcbuf_get_buf)                                                                                           \
    X(nghttp3_settings_default_versioned)                                                                              \
    X(nghttp3_strerror)                                                                                                \
    X(nghttp3_version)                                                                                                 \
    X(ngtcp2_accept)                                                                                                   \
    X(ngtcp2_cid_init)                                                                                                 \
    X(ngtcp2_conn_del)                                                                                                 \
    X(ngtcp2_conn_extend_max_offset)                                                                                   \
    X(ngtcp2_conn_extend_max_stream_offset)                                                                            \
    X(ngtcp2_conn_extend_max_streams_bidi)                                                                             \
    X(ngtcp2_conn_extend_max_streams_uni)                                                                              \
    X(ngtcp2_conn_get_conn_stat_versioned)                                                                             \
    X(ngtcp2_conn_get_expiry)                                                                                          \
    X(ngtcp2_conn_get_path)                                                                                            \
    X(ngtcp2_conn_get_path_max_tx_udp_payload_size)                                                                    \
    X(ngtcp2_conn_get_pto)                                                                                             \
    X(ngtcp2_conn_get_send_quantum)                                                                                    \
    X(ngtcp2_conn_get_tls_alert)                                                                                       \
    X(ngtcp2_conn_handle_expiry)                                                                                       \
    X(ngtcp2_conn_open_uni_stream)                                                                                     \
    X(ngtcp2_conn_read_pkt_versioned)                                                                                  \
    X(ngtcp2_conn_server_new_versioned)                                                                                \
    X(ngtcp2_conn_set_tls_native_handle)                                                                               \
    X(ngtcp2_conn_shutdown_stream_read)                                                                                \
    X(ngtcp2_conn_shutdown_stream_write)                                                                               \
    X(ngtcp2_conn_update_pkt_tx_time)                                                                                  \
    X(ngtcp2_conn_write_connection_close_versioned)                                                                    \
    X(ngtcp2_conn_writev_stream_versioned)                                                                             \
    X(ngtcp2_connection_close_error_default)                                                                           \
    X(ngtcp2_connection_close_error_set_application_error)                                                             \
    X(ngtcp2_connection_close_error_set_transport_error)                                                               \
    X(ngtcp2_connection_close_error_set_transport_error_liberr)                                                        \
    X(ngtcp2_connection_close_error_set_transport_error_tls_alert)                                                     \
    X(ngtcp2_err_infer_quic_transport_error_code)                                                                      \
    X(ngtcp2_path_storage_zero)                                                                                        \
    X(ngtcp2_pkt_decode_version_cid)                                                                                   \
    X(ngtcp2_pkt_write_stateless_reset)                                                                                \
    X(ngtcp2_pkt_write_version_negotiation)                                                                            \
    X(ngtcp2_settings_default_versioned)                                                                               \
    X(ngtcp2_strerror)                                                                                                 \
    X(ngtcp2_transport_params_default_versioned)                                                                       \
    X(ngtcp2_crypto_decrypt_cb)                                                                                        \
    X(ngtcp2_crypto_delete_crypto_aead_ctx_cb)                                                                         \
    X(ngtcp2_crypto_delete_crypto_cipher_ctx_cb)                                                                       \
    X(ngtcp2_crypto_encrypt_cb)                                                                                        \
    X(ngtcp2_crypto_generate_retry_token)                                                                              \
    X(ngtcp2_crypto_generate_stateless_reset_token)                                                                    \
    X(ngtcp2_crypto_get_path_challenge_data_cb)                                                                        \
    X(ngtcp2_crypto_gnutls_configure_server_session)                                                                   \
    X(ngtcp2_crypto_hp_mask_cb)                                                                                        \
    X(ngtcp2_crypto_recv_client_initial_cb)                                                                            \
    X(ngtcp2_crypto_recv_crypto_data_cb)                                                                               \
    X(ngtcp2_crypto_update_key_cb)                                                                                     \
    X(ngtcp2_crypto_verify_retry_token)                                                                                \
    X(ngtcp2_crypto_version_negotiation_cb)                                                                            \
    X(ngtcp2_crypto_write_connection_close)                                                                            \
    X(ngtcp2_crypto_write_retry)                                                                                       \
    X(gnutls_alpn_set_protocols)                                                                                       \
    X(gnutls_anti_replay_deinit)                                                                                       \
    X(gnutls_anti_replay_enable)                                                                                       \
    X(gnutls_anti_replay_init)                                                                                         \
    X(gnutls_anti_replay_set_add_function)                                                                             \
    X(gnutls_anti_replay_set_ptr)                                                                                      \
    X(gnutls_anti_replay_set_window)                                                                                   \
    X(gnutls_certificate_allocate_credentials)                                                                         \
    X(gnutls_certificate_free_credentials)                                                                             \
    X(gnutls_certificate_set_x509_key_file)                                                                            \
    X(gnutls_credentials_set)                                                                                          \
    X(gnutls_db_set_cache_expiration)                                                                                  \
    X(gnutls_deinit)                                                                                                   \
    X(gnutls_global_init)                                                                                              \
    X(gnutls_global_set_time_function)                                                                                 \
    X(gnutls_hash_fast)                                                                                                \
    X(gnutls_hmac_fast)                                                                                                \
    X(gnutls_init)                                                                                                     \
    X(gnutls_memset)                                                                                                   \
    X(gnutls_priority_deinit)                                                                                          \
    X(gnutls_priority_init)                                                                                            \
    X(gnutls_priority_set)                                                                                             \
    X(gnutls_record_set_max_early_data_size)                                                                           \
    X(gnutls_session_get_flags)                                                                                        \
    X(gnutls_session_is_resumed)                                                                                       \
    X(gnutls_session_set_ptr)                                                                                          \
    X(gnutls_session_ticket_enable_server)                                                                             \
    X(gnutls_session_ticket_key_generate)                                                                              \
    X(gnutls_session_ticket_send)                                                                                      \
    X(gnutls_strerror)

// The one data object among the names is GnuTLS's `gnutls_free` (type D: a variable holding
// its deallocator, `extern gnutls_free_function gnutls_free`, which the callers read and
// call); each file handles it by name, before the list's entries.

#define RINGBOLT_H3_NAME_STRING(name) #name " "
// Every name in the order of the entries: the extension refuses a module built from
// another list (h3_libraries.cpp).
#define RINGBOLT_H3_LIBRARY_NAMES "gnutls_free " RINGBOLT_H3_LIBRARY_FUNCTIONS(RINGBOLT_H3_NAME_STRING)
